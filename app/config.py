"""Settings for the service, the CLI and the app: flags win over environment, environment over the
config file, the config file over defaults. pydantic-settings does the layering; every setting NAME is the flag
--name (with dashes), the environment variable KILTSHOP_NAME and the key `name` in the config file.

Config file: $KILTSHOP_CONFIG, else <user config dir>/kiltshop/kiltshop.toml, e.g.

    broker_url = "amqp://guest@127.0.0.1:5672/"
    namespace = "kiltshop"
    database_url = "postgresql+asyncpg://shop@db.local/kiltshop"
    timezone = "Europe/London"   # the shop's days for billing (the service)
    call_timeout = 10            # seconds a command waits for the service's answer

Passwords belong in the keyring or the environment, not in this file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from app.contract import DEFAULT_NAMESPACE, is_valid_namespace

ENV_PREFIX = "KILTSHOP_"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
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
    known = set(ShopLayers.model_fields) | set(NotifierLayers.model_fields) | set(FILE_ALIASES)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"The config file {path} has a setting this version does not know: {unknown[0]!r}.")
    return data


def _given(value: Any) -> bool:
    return value not in (None, "", (), [])


class _Values(PydanticBaseSettingsSource):
    """One layer as a dict of the settings it gives (empty values are not given)."""

    def __init__(self, settings_cls: type[BaseSettings], read: Callable[[], dict[str, Any]]) -> None:
        super().__init__(settings_cls)
        self.read = read

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ gives the whole layer

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self.read().items() if k in self.settings_cls.model_fields and _given(v)}


def _file_layer() -> dict[str, Any]:
    data = _read_file(config_path())
    for old, name in FILE_ALIASES.items():  # an older key still works; the current one wins
        if old in data and name not in data:
            data[name] = data[old]
    return data


def _old_environment() -> dict[str, Any]:
    return {name: os.environ[old] for old, name in ENV_ALIASES.items() if os.environ.get(old)}


class _Layers(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags, then KILTSHOP_<NAME>, then an older variable name, then the config file; then the defaults.
        return init_settings, env_settings, _Values(settings_cls, _old_environment), _Values(settings_cls, _file_layer)


def _layered(layers: type[_Layers], flags: dict[str, Any]) -> dict[str, Any]:
    """Each setting from its flag, else KILTSHOP_<NAME>, else the config file, else its default."""
    try:
        return layers(**{k: v for k, v in flags.items() if _given(v)}).model_dump()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        raise ConfigError(
            f"The setting {name} ({where(name)}) must be {_KINDS.get(error['type'], 'another value')} "
            f"(got {error.get('input')!r})."
        ) from None


_KINDS = {"float_parsing": "a number", "int_parsing": "a whole number", "float_type": "a number",
          "int_type": "a whole number", "string_type": "text"}


def where(name: str) -> str:
    """Where a setting can be given, for messages."""
    return f"--{name.replace('_', '-')}, {ENV_PREFIX}{name.upper()} or {name} in the config file"


class ShopLayers(_Layers):
    broker_url: str = DEFAULT_BROKER_URL
    namespace: str = DEFAULT_NAMESPACE
    database_url: str = ""
    call_timeout: float = 10.0
    timezone: str = DEFAULT_TIMEZONE


def load_settings(**flags: Any) -> Settings:
    """Settings from flags (None means not given), then environment, config file and defaults."""
    values = _layered(ShopLayers, flags)
    if not values["database_url"]:
        values["database_url"] = default_database_url()
    settings = Settings(**values)
    if not is_valid_namespace(settings.namespace):
        raise ConfigError(
            f"The namespace {settings.namespace!r} is not usable: use letters, digits, '-' or '_' only."
        )
    if urlsplit(settings.broker_url).scheme not in ("amqp", "amqps"):
        raise ConfigError(f"The broker address must start with amqp:// or amqps:// (got {settings.broker_url!r}).")
    if settings.call_timeout <= 0:
        raise ConfigError(f"The setting call_timeout ({where('call_timeout')}) must be a number of seconds above 0.")
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

class NotifierLayers(_Layers):
    # Checked in plain words by load_notifier_settings, so taken as given here.
    smtp_host: Any = ""
    smtp_port: Any = None
    smtp_tls: Any = "starttls"
    smtp_user: Any = ""
    smtp_sender: Any = ""
    smtp_cafile: Any = ""
    smtp_timeout: Any = None
    notify_shipping: Any = ""
    notify_workshop: Any = ""
    collect_from: Any = ""
    retry_for: Any = None


FILE_ALIASES = {"notify_retry_for": "retry_for"}  # older config-file key -> setting
ENV_ALIASES = {"KILTSHOP_NOTIFY_RETRY_FOR": "retry_for"}  # older environment variable -> setting
SMTP_PASSWORD_ENV = "KILTSHOP_SMTP_PASSWORD"  # environment only: never in the config file
SMTP_TLS_MODES = ("starttls", "tls", "none")
SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
DEFAULT_RETRY_FOR = 15 * 60.0  # seconds a failing mail is retried before it is dead-lettered
DEFAULT_SMTP_TIMEOUT = 60.0


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
    smtp_timeout: float = DEFAULT_SMTP_TIMEOUT

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
    raw = _layered(NotifierLayers, flags)
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
    retry_for = _seconds(raw["retry_for"], "retry_for", DEFAULT_RETRY_FOR)
    smtp_timeout = _seconds(raw["smtp_timeout"], "smtp_timeout", DEFAULT_SMTP_TIMEOUT)
    cafile = str(raw.get("smtp_cafile", "")).strip()
    if cafile and not Path(cafile).is_file():
        raise ConfigError(f"The SMTP CA file {cafile} does not exist.")
    return NotifierSettings(
        smtp_host=host, smtp_port=port, smtp_tls=tls, smtp_user=user, smtp_sender=sender, smtp_cafile=cafile,
        notify_shipping=_addresses(raw.get("notify_shipping", ""), "notify_shipping"),
        notify_workshop=_addresses(raw.get("notify_workshop", ""), "notify_workshop"),
        collect_from=str(raw.get("collect_from", "")).strip() or "the workshop",
        retry_for=retry_for, smtp_timeout=smtp_timeout,
    )


def _seconds(value: Any, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
        if not seconds > 0:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"The setting {name} ({where(name)}) must be a number of seconds above 0 "
                          f"(got {value!r}).") from None
    return seconds

