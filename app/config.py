"""Settings for the service, the CLI and the app: flags win over environment, environment over the
config file, the config file over defaults.

Config file: $KILTSHOP_CONFIG, else <user config dir>/kiltshop/kiltshop.toml, e.g.

    broker_url = "amqp://guest@127.0.0.1:5672/"
    namespace = "kiltshop"
    database_url = "postgresql+asyncpg://shop@db.local/kiltshop"

Passwords belong in the keyring or the environment, not in this file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from app.contract import DEFAULT_NAMESPACE, is_valid_namespace

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
ENV = {
    "broker_url": "KILTSHOP_BROKER_URL",
    "namespace": "KILTSHOP_NAMESPACE",
    "database_url": "KILTSHOP_DATABASE_URL",
}


class ConfigError(Exception):
    """A setting that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    broker_url: str = DEFAULT_BROKER_URL
    namespace: str = DEFAULT_NAMESPACE
    database_url: str = ""
    call_timeout: float = 10.0

    @property
    def broker_address(self) -> str:
        """host:port/vhost without credentials, for messages to people."""
        parts = urlsplit(self.broker_url)
        host = parts.hostname or "localhost"
        port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
        vhost = parts.path.lstrip("/")
        return f"{host}:{port}" + (f"/{vhost}" if vhost else "")

    @property
    def broker_user(self) -> str:
        return urlsplit(self.broker_url).username or "guest"


def config_path() -> Path:
    env = os.environ.get("KILTSHOP_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir("kiltshop")) / "kiltshop.toml"


def default_database_url() -> str:
    path = Path(platformdirs.user_data_dir("kiltshop")) / "kiltshop.sqlite3"
    return f"sqlite+aiosqlite:///{path}"


def _refuse_readable_secret(path: Path, data: dict[str, Any]) -> None:
    url = str(data.get("broker_url", ""))
    if urlsplit(url).password is not None and path.stat().st_mode & 0o077:
        raise ConfigError(
            f"The config file {path} holds a broker password and other users can read it: run "
            f"'chmod 600 {path}', or better keep the password in the keyring or KILTSHOP_BROKER_PASSWORD."
        )


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"The config file {path} cannot be read: {exc}") from None
    _refuse_readable_secret(path, data)
    unknown = sorted(set(data) - set(ENV) - {"call_timeout"})
    if unknown:
        raise ConfigError(f"The config file {path} has a setting this version does not know: {unknown[0]!r}.")
    return data


def load_settings(**flags: Any) -> Settings:
    """Settings from flags (None means not given), then environment, config file and defaults."""
    file_values = _read_file(config_path())
    values: dict[str, Any] = {}
    for key, env_name in ENV.items():
        if flags.get(key):
            values[key] = flags[key]
        elif os.environ.get(env_name):
            values[key] = os.environ[env_name]
        elif file_values.get(key):
            values[key] = file_values[key]
    if flags.get("call_timeout"):
        values["call_timeout"] = float(flags["call_timeout"])
    elif "call_timeout" in file_values:
        values["call_timeout"] = float(file_values["call_timeout"])
    settings = Settings(**values)
    if not settings.database_url:
        settings = Settings(**{**values, "database_url": default_database_url()})
    if not is_valid_namespace(settings.namespace):
        raise ConfigError(
            f"The namespace {settings.namespace!r} is not usable: use letters, digits, '-' or '_' only."
        )
    if urlsplit(settings.broker_url).scheme not in ("amqp", "amqps"):
        raise ConfigError(f"The broker address must start with amqp:// or amqps:// (got {settings.broker_url!r}).")
    return settings
