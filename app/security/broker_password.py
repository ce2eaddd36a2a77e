"""Where a broker password comes from: the URL given on the command line or in the environment, then
KILTSHOP_BROKER_PASSWORD, then the system keyring, then a prompt in a terminal. Never a file in the repo,
and never a config file that other users can read (app/config.py refuses that)."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from dataclasses import replace
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from app.config import ConfigError, Settings
from app.security.secrets import load_password

ENV_PASSWORD = "KILTSHOP_BROKER_PASSWORD"


def url_with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "guest"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(unquote(user), safe='')}:{quote(password, safe='')}@{host}" + (
        f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_password(settings: Settings, interactive: bool | None = None) -> Settings:
    """Settings whose broker URL carries a password, or ConfigError saying how to give one."""
    parts = urlsplit(settings.broker_url)
    if parts.password is not None:
        return settings
    user = unquote(parts.username or "guest")
    password = os.environ.get(ENV_PASSWORD)
    if not password:
        found = asyncio.run(load_password(user, settings.broker_address))
        password = found.password
    if not password and (sys.stdin.isatty() if interactive is None else interactive):
        password = getpass.getpass(f"Broker password for {user} at {settings.broker_address}: ")
    if not password:
        raise ConfigError(
            f"No broker password for {user} at {settings.broker_address}: set {ENV_PASSWORD}, keep it in the "
            "system keyring (the app's sign-in does that), or run the command in a terminal to be asked."
        )
    return replace(settings, broker_url=url_with_password(settings.broker_url, password))
