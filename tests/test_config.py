"""Every setting from a flag, the environment (KILTSHOP_<NAME>) or the config file, in that order of precedence;
the older names of the notifier's retry setting still work; a bad value is refused in plain words."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config import ConfigError, load_notifier_settings, load_settings

SHOP = {  # setting -> (file value, environment value, flag value, what each reads as)
    "broker_url": ("amqp://file@h:1/", "amqp://env@h:2/", "amqp://flag@h:3/"),
    "namespace": ("from-file", "from-env", "from-flag"),
    "database_url": ("sqlite+aiosqlite:///file.db", "sqlite+aiosqlite:///env.db", "sqlite+aiosqlite:///flag.db"),
    "call_timeout": ("11", "12", "13"),
    "timezone": ("Europe/Dublin", "America/Halifax", "Asia/Kolkata"),
}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("KILTSHOP_"):
            monkeypatch.delenv(name)
    path = tmp_path / "kiltshop.toml"
    path.write_text("")
    monkeypatch.setenv("KILTSHOP_CONFIG", str(path))
    return path


def toml(values: dict[str, str]) -> str:
    return "".join(f"{k} = {v if k == 'call_timeout' else repr(v).replace(chr(39), chr(34))}\n"
                   for k, v in values.items())


def read(value: object) -> object:
    return float(value) if isinstance(value, str) and value.isdigit() else value


def test_every_shop_setting_flag_over_environment_over_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert defaults.call_timeout == 10.0 and defaults.namespace == "kiltshop"
    config.write_text(toml({k: v[0] for k, v in SHOP.items()}))
    assert {k: getattr(load_settings(), k) for k in SHOP} == {k: read(v[0]) for k, v in SHOP.items()}
    for name, (_, env, _) in SHOP.items():
        monkeypatch.setenv(f"KILTSHOP_{name.upper()}", env)
    assert {k: getattr(load_settings(), k) for k in SHOP} == {k: read(v[1]) for k, v in SHOP.items()}
    flagged = load_settings(**{k: v[2] for k, v in SHOP.items()})
    assert {k: getattr(flagged, k) for k in SHOP} == {k: read(v[2]) for k, v in SHOP.items()}
    # A flag not given (None) or an empty variable leaves the next layer's value.
    monkeypatch.setenv("KILTSHOP_NAMESPACE", "")
    assert load_settings(namespace=None).namespace == "from-file"


def test_call_timeout_from_the_cli_flag(config: Path) -> None:
    from app.cli.main import build_parser

    args = build_parser().parse_args(["--call-timeout", "4.5", "contacts", "list"])
    assert load_settings(call_timeout=args.call_timeout).call_timeout == 4.5


def test_a_bad_number_is_refused_in_plain_words(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILTSHOP_CALL_TIMEOUT", "soon")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "call_timeout" in message and "KILTSHOP_CALL_TIMEOUT" in message and "'soon'" in message
    assert "pydantic" not in message.lower() and "validation" not in message.lower()
    with pytest.raises(ConfigError):
        load_settings(call_timeout="0")


def test_config_file_with_an_unknown_setting_is_refused(config: Path) -> None:
    config.write_text('colour = "tartan"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "'colour'" in str(caught.value)


def notifier(**flags: object) -> float:
    base: dict[str, object] = {"smtp_host": "mail.local", "smtp_sender": "shop@kilts.example"}
    return load_notifier_settings(**{**base, **flags}).retry_for


def test_retry_for_by_its_name_and_by_its_older_names(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert notifier() == 900.0
    config.write_text("notify_retry_for = 30\n")  # the older file key
    assert notifier() == 30.0
    config.write_text("notify_retry_for = 30\nretry_for = 40\n")  # the setting's own name wins
    assert notifier() == 40.0
    monkeypatch.setenv("KILTSHOP_NOTIFY_RETRY_FOR", "50")  # the older variable, over the file
    assert notifier() == 50.0
    monkeypatch.setenv("KILTSHOP_RETRY_FOR", "60")
    assert notifier() == 60.0
    assert notifier(retry_for="70") == 70.0


def test_every_notifier_setting_from_the_environment(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_text('smtp_host = "file.local"\nsmtp_timeout = 5\n')
    monkeypatch.setenv("KILTSHOP_SMTP_SENDER", "shop@kilts.example")
    monkeypatch.setenv("KILTSHOP_SMTP_PORT", "2525")
    monkeypatch.setenv("KILTSHOP_SMTP_TLS", "none")
    monkeypatch.setenv("KILTSHOP_NOTIFY_SHIPPING", "van@kilts.example, depot@kilts.example")
    monkeypatch.setenv("KILTSHOP_COLLECT_FROM", "the back door")
    settings = load_notifier_settings()
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls, settings.smtp_timeout) == (
        "file.local", 2525, "none", 5.0)
    assert settings.notify_shipping == ("van@kilts.example", "depot@kilts.example")
    assert settings.collect_from == "the back door"
    monkeypatch.setenv("KILTSHOP_SMTP_TIMEOUT", "7")
    assert load_notifier_settings().smtp_timeout == 7.0
    assert load_notifier_settings(smtp_timeout="8", smtp_host="flag.local").smtp_address == "flag.local:2525"
