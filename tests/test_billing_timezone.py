"""Billing days are the shop's local days: an order completed at 23:30 UTC in British summer time (00:30 in
the shop, the next day) counts on the shop's day, in pickups.list and pickups.billing, and `since`/`until`
are the shop's days. The zone is a setting (flag, KILTSHOP_TIMEZONE, config file; Europe/London by default);
an unknown one is one plain line naming the setting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, update
from sqlalchemy.engine import Connection

from app.client.shop_client import ShopClient
from app.config import ConfigError, Settings, load_settings
from app.service.shop_service import ShopService
from app.store.schema import history, orders
from app.store.shop_store import ShopStore
from tests.notifier_helpers import complete, ready_order
from tests.shop_helpers import cli_env, run_cli

SUMMER_NIGHT = "2026-07-14T23:30:00.000Z"  # 00:30 on 15 July in the shop (BST, UTC+1)
WINTER_NIGHT = "2026-01-14T23:30:00.000Z"  # 23:30 on 14 January in the shop too (GMT)


async def completed_at(database_url: str, order: dict[str, Any], at: str) -> None:
    """Move an order's completion to `at`, as if it had been completed then."""
    store = await ShopStore.open(database_url)

    def move(conn: Connection) -> None:
        conn.execute(update(history).where(and_(history.c.entity == "order", history.c.entity_id == order["id"],
                                                history.c.action == "completed")).values(at=at))
        conn.execute(update(orders).where(orders.c.id == order["id"]).values(updated_at=at))

    try:
        await store.run_write(move, notify=False)
    finally:
        await store.close()


@pytest.fixture
async def shop(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[ShopClient]:
    service = ShopService(replace(settings, timezone=request.param) if request.param else settings)
    await service.start()
    try:
        async with ShopClient(settings.broker_url, settings.namespace, app_id="test") as client:
            yield client
    finally:
        await service.stop()


async def two_nights(client: ShopClient, database_url: str) -> None:
    summer = await complete(client, await ready_order(client, "Morag MacLeod"))
    winter = await complete(client, await ready_order(client, "Hamish Grant"))
    await completed_at(database_url, summer, SUMMER_NIGHT)
    await completed_at(database_url, winter, WINTER_NIGHT)


@pytest.mark.parametrize("shop", [None], indirect=True)  # the default: Europe/London
async def test_a_kilt_finished_after_midnight_in_summer_counts_on_the_shops_day(
    shop: ShopClient, settings: Settings
) -> None:
    await two_nights(shop, settings.database_url)
    assert settings.timezone == "Europe/London"

    pickups = await shop.call("pickups.list", {})
    assert [(d["date"], d["count"]) for d in pickups["days"]] == [("2026-01-14", 1), ("2026-07-15", 1)]
    billing = await shop.call("pickups.billing", {})
    assert [(d["date"], d["count"]) for d in billing["days"]] == [("2026-01-14", 1), ("2026-07-15", 1)]

    async def numbers(**days: str) -> list[str]:
        return [o["number"] for o in (await shop.call("pickups.billing", days))["items"]]

    assert await numbers(since="2026-07-15", until="2026-07-15") == ["K-0001"]
    assert await numbers(since="2026-07-14", until="2026-07-14") == []
    assert await numbers(until="2026-07-14") == ["K-0002"]
    assert await numbers(since="2026-01-14", until="2026-01-14") == ["K-0002"]
    assert await numbers(since="2026-01-15") == ["K-0001"]
    one_day = await shop.call("pickups.billing", {"since": "2026-07-15", "until": "2026-07-15"})
    assert (one_day["count"], one_day["days"]) == (1, [{"date": "2026-07-15", "count": 1,
                                                         "total_due_pence": 53100}])


@pytest.mark.parametrize("shop", ["UTC"], indirect=True)
async def test_another_time_zone_gives_its_own_days(shop: ShopClient, settings: Settings) -> None:
    await two_nights(shop, settings.database_url)
    billing = await shop.call("pickups.billing", {"since": "2026-07-14", "until": "2026-07-14"})
    assert [(d["date"], d["count"]) for d in billing["days"]] == [("2026-07-14", 1)]
    pickups = await shop.call("pickups.list", {})
    assert [d["date"] for d in pickups["days"]] == ["2026-01-14", "2026-07-14"]


def test_the_time_zone_setting_flag_environment_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kiltshop.toml"
    config.write_text('timezone = "Europe/Dublin"\n')
    monkeypatch.setenv("KILTSHOP_CONFIG", str(config))
    monkeypatch.delenv("KILTSHOP_TIMEZONE", raising=False)
    assert load_settings().timezone == "Europe/Dublin"
    monkeypatch.setenv("KILTSHOP_TIMEZONE", "America/Halifax")
    assert load_settings().timezone == "America/Halifax"
    assert load_settings(timezone="Asia/Kolkata").timezone == "Asia/Kolkata"
    config.write_text("")
    monkeypatch.delenv("KILTSHOP_TIMEZONE")
    assert load_settings().timezone == "Europe/London"
    for wrong in ("Europe/Bridge_of_Orchy", "../../etc/passwd", "Europe"):
        with pytest.raises(ConfigError) as caught:
            load_settings(timezone=wrong)
        assert "KILTSHOP_TIMEZONE" in str(caught.value) and repr(wrong) in str(caught.value)


async def test_an_unknown_time_zone_stops_the_service_in_one_plain_line(settings: Settings) -> None:
    env = cli_env(settings.broker_url, settings.namespace, KILTSHOP_DATABASE_URL=settings.database_url)
    result = await run_cli(env, "service", "--timezone", "Scotland/Oban")
    assert result.returncode == 3 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("kiltshop: The shop's time zone 'Scotland/Oban' is not known") and "--timezone" in line
    env["KILTSHOP_TIMEZONE"] = "Nowhere"
    again = await run_cli(env, "service")
    assert again.returncode == 3 and "'Nowhere'" in again.stderr
