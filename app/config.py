"""Settings for the service, the CLI and the app: flags win over environment, environment over the
config file, the config file over defaults.

Config file: $KILTSHOP_CONFIG, else <user config dir>/kiltshop/kiltshop.toml, e.g.

    broker_url = "amqp://guest@127.0.0.1:5672/"
    namespace = "kiltshop"
    database_url = "postgresql+asyncpg://shop@db.local/kiltshop"
    timezone = "Europe/London"   # the shop's days for billing (the service)

Passwords belong in the keyring or the environment, not in this file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from app.contract import DEFAULT_NAMESPACE, is_valid_namespace

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
ENV = {
    "broker_url": "KILTSHOP_BROKER_URL",
    "namespace": "KILTSHOP_NAMESPACE",
    "database_url": "KILTSHOP_DATABASE_URL",
    "timezone": "KILTSHOP_TIMEZONE",
}
DEFAULT_TIMEZONE = "Europe/London"  # the shop's clock: which day a billing total belongs to


class ConfigError(Exception):
    """A setting that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    broker_url: str = DEFAULT_BROKER_URL
    namespace: str = DEFAULT_NAMESPACE
    database_url: str = ""
    call_timeout: float = 10.0
    timezone: str = DEFAULT_TIMEZONE  # the shop's time zone (the service's days: pickups.list, pickups.billing)

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
    unknown = sorted(set(data) - set(ENV) - set(NOTIFIER_ENV) - {"call_timeout"})
    if unknown:
        raise ConfigError(f"The config file {path} has a setting this version does not know: {unknown[0]!r}.")
    return data


def _layered(env_names: dict[str, str], flags: dict[str, Any], file_values: dict[str, Any]) -> dict[str, Any]:
    """Each key's value from its flag, else its environment variable, else the config file; unset keys left out."""
    values: dict[str, Any] = {}
    for key, env_name in env_names.items():
        if flags.get(key) not in (None, "", ()):
            values[key] = flags[key]
        elif os.environ.get(env_name):
            values[key] = os.environ[env_name]
        elif file_values.get(key) not in (None, ""):
            values[key] = file_values[key]
    return values


def load_settings(**flags: Any) -> Settings:
    """Settings from flags (None means not given), then environment, config file and defaults."""
    file_values = _read_file(config_path())
    values = _layered(ENV, flags, file_values)
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
    shop_zone(settings.timezone)
    return settings


def shop_zone(name: str) -> ZoneInfo:
    """The shop's time zone by name; a ConfigError naming the setting when there is no such zone."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"The shop's time zone {name!r} is not known (the setting timezone: --timezone, KILTSHOP_TIMEZONE or "
            "timezone in the config file): use a name such as Europe/London."
        ) from None


# -- the notifier (`kiltshop notifier`): SMTP server, sender, recipients ------------------------------------

NOTIFIER_ENV = {
    "smtp_host": "KILTSHOP_SMTP_HOST",
    "smtp_port": "KILTSHOP_SMTP_PORT",
    "smtp_tls": "KILTSHOP_SMTP_TLS",
    "smtp_user": "KILTSHOP_SMTP_USER",
    "smtp_sender": "KILTSHOP_SMTP_SENDER",
    "smtp_cafile": "KILTSHOP_SMTP_CAFILE",
    "notify_shipping": "KILTSHOP_NOTIFY_SHIPPING",
    "notify_workshop": "KILTSHOP_NOTIFY_WORKSHOP",
    "collect_from": "KILTSHOP_COLLECT_FROM",
    "notify_retry_for": "KILTSHOP_NOTIFY_RETRY_FOR",
}
SMTP_PASSWORD_ENV = "KILTSHOP_SMTP_PASSWORD"  # environment only: never in the config file
SMTP_TLS_MODES = ("starttls", "tls", "none")
SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
DEFAULT_RETRY_FOR = 15 * 60.0  # seconds a failing mail is retried before it is dead-lettered


@dataclass(frozen=True)
class NotifierSettings:
    """Where and how the notifier sends mail. Recipients here get every notice of their kind at once; people
    with notice settings in the shop (notices.settings.set) get them as they chose."""

    smtp_host: str
    smtp_sender: str
    smtp_port: int = 587
    smtp_tls: str = "starttls"  # STARTTLS on the submission port; "tls" = TLS from the start (465); "none"
    smtp_user: str = ""
    smtp_cafile: str = ""  # a CA bundle to trust (for a server with its own certificate authority)
    notify_shipping: tuple[str, ...] = ()  # addresses told of every order.completed
    notify_workshop: tuple[str, ...] = ()  # addresses told of every order.placed
    collect_from: str = "the workshop"  # where the shipping side collects a ready kilt
    retry_for: float = DEFAULT_RETRY_FOR
    smtp_timeout: float = 60.0

    @property
    def smtp_address(self) -> str:
        return f"{self.smtp_host}:{self.smtp_port}"


def _addresses(value: Any, key: str) -> tuple[str, ...]:
    from app.domain.validation import EMAIL_RE

    items = value if isinstance(value, list | tuple) else str(value).split(",")
    addresses = tuple(str(a).strip() for a in items if str(a).strip())
    for address in addresses:
        if not EMAIL_RE.match(address):
            raise ConfigError(f"The setting {key} holds {address!r}, which is not an e-mail address.")
    return addresses


def load_notifier_settings(**flags: Any) -> NotifierSettings:
    """The notifier's settings from flags (None: not given), environment, config file; plain-words errors."""
    raw = _layered(NOTIFIER_ENV, flags, _read_file(config_path()))
    host = str(raw.get("smtp_host", "")).strip()
    if not host:
        raise ConfigError("The notifier needs an SMTP server: give --smtp-host, or set KILTSHOP_SMTP_HOST "
                          "(or smtp_host in the config file).")
    tls = str(raw.get("smtp_tls", "starttls")).strip().lower()
    if tls not in SMTP_TLS_MODES:
        raise ConfigError(f"The SMTP security {tls!r} is not known: use one of {', '.join(SMTP_TLS_MODES)}.")
    try:
        port = int(raw.get("smtp_port") or SMTP_DEFAULT_PORTS[tls])
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"The SMTP port {raw.get('smtp_port')!r} is not a port number (1 to 65535).") from None
    user = str(raw.get("smtp_user", "")).strip()
    sender = str(raw.get("smtp_sender", "")).strip() or (user if "@" in user else "")
    if not sender:
        raise ConfigError("The notifier needs a sender address for its mails: give --smtp-sender, or set "
                          "KILTSHOP_SMTP_SENDER (or smtp_sender in the config file).")
    _addresses(sender, "smtp_sender")
    try:
        retry_for = float(raw.get("notify_retry_for", DEFAULT_RETRY_FOR))
        if retry_for <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError(f"notify_retry_for must be a number of seconds above 0 (got {raw['notify_retry_for']!r}).") \
            from None
    cafile = str(raw.get("smtp_cafile", "")).strip()
    if cafile and not Path(cafile).is_file():
        raise ConfigError(f"The SMTP CA file {cafile} does not exist.")
    return NotifierSettings(
        smtp_host=host, smtp_port=port, smtp_tls=tls, smtp_user=user, smtp_sender=sender, smtp_cafile=cafile,
        notify_shipping=_addresses(raw.get("notify_shipping", ""), "notify_shipping"),
        notify_workshop=_addresses(raw.get("notify_workshop", ""), "notify_workshop"),
        collect_from=str(raw.get("collect_from", "")).strip() or "the workshop",
        retry_for=retry_for,
    )

