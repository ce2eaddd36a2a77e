"""Broker passwords: from the URL, the environment, the keyring or a prompt; never a readable config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, Settings, load_settings
from app.security.broker_password import url_with_password, with_password
from tests.shop_helpers import cli_env, run_cli


def test_a_password_in_the_url_is_kept() -> None:
    settings = Settings(broker_url="amqp://kiltshop.sales:s3cret@shop.local:5672/kiltshop")
    assert with_password(settings, interactive=False) is settings


def test_the_environment_fills_in_a_missing_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILTSHOP_BROKER_PASSWORD", "p@ss:word/1")
    settings = with_password(Settings(broker_url="amqp://kiltshop.sales@shop.local:5672/kiltshop"), False)
    assert settings.broker_url == "amqp://kiltshop.sales:p%40ss%3Aword%2F1@shop.local:5672/kiltshop"
    assert url_with_password("amqps://u@h/v?cafile=/ca.pem", "x") == "amqps://u:x@h/v?cafile=/ca.pem"


def test_no_password_anywhere_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.delenv("KILTSHOP_BROKER_PASSWORD", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # as on a headless machine
    try:
        with pytest.raises(ConfigError) as missing:
            with_password(Settings(broker_url="amqp://kiltshop.sales@shop.local:5672/"), interactive=False)
    finally:
        keyring.set_keyring(previous)
    assert "KILTSHOP_BROKER_PASSWORD" in str(missing.value) and "keyring" in str(missing.value)


def test_a_config_file_with_a_password_must_not_be_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kiltshop.toml"
    config.write_text('broker_url = "amqp://kiltshop.sales:s3cret@shop.local:5672/kiltshop"\n')
    config.chmod(0o644)
    monkeypatch.setenv("KILTSHOP_CONFIG", str(config))
    monkeypatch.delenv("KILTSHOP_BROKER_URL", raising=False)
    with pytest.raises(ConfigError) as readable:
        load_settings()
    assert "chmod 600" in str(readable.value)
    config.chmod(0o600)
    assert load_settings().broker_user == "kiltshop.sales"


async def test_the_cli_says_so_in_one_line(broker_url: str, namespace: str, tmp_path: Path) -> None:
    env = cli_env("amqp://kiltshop.sales@127.0.0.1:5672/", namespace)
    env.pop("KILTSHOP_BROKER_PASSWORD", None)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    result = await run_cli(env, "contacts", "list")
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("kiltshop: No broker password for kiltshop.sales")
    assert "Traceback" not in result.stderr + result.stdout
