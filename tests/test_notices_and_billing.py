"""notices.settings.get/set and pickups.billing through the real service, the rules of when a notice is due,
and the words of the mails (pure functions, checked on their own)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.client.shop_client import CallError, ShopClient
from app.domain.billing import local_day
from app.domain.notices import plan_notice, retry_delay
from app.messaging.rpc_server import Call
from app.notifier.mail_content import Notice, compose, compose_digest, mail_id
from app.service.handlers import ShopHandlers
from app.store.shop_store import ShopStore
from tests.notifier_helpers import complete, ready_order
from tests.test_store_postgres import pg_url  # noqa: F401  (the PostgreSQL database fixture)

# -- the settings, through the service ---------------------------------------------------------------------


async def test_settings_start_as_defaults_and_change_with_the_version(client: ShopClient) -> None:
    settings = await client.call("notices.settings.get", {"role": "shipping"})
    assert settings == {"user": "guest", "role": "shipping", "email_enabled": False, "email": "",
                        "quiet_start": None, "quiet_end": None, "digest": False, "digest_at": "08:00",
                        "timezone": "Europe/London", "version": 0, "updated_at": None}
    message_id = str(uuid.uuid4())
    change = {"role": "shipping", "version": 0, "email_enabled": True, "email": "dougie@glen.example",
              "quiet_start": "21:00", "quiet_end": "07:00"}
    saved = await client.call("notices.settings.set", change, message_id=message_id)
    assert saved["version"] == 1 and saved["email_enabled"] and saved["quiet_end"] == "07:00"
    # the same message_id again: the first reply, nothing done twice
    assert await client.call("notices.settings.set", change, message_id=message_id) == saved
    assert await client.call("notices.settings.get", {"role": "shipping"}) == saved
    # other roles' settings are apart
    assert (await client.call("notices.settings.get", {"role": "workshop"}))["version"] == 0

    again = await client.call("notices.settings.set", {"role": "shipping", "version": 1, "digest": True,
                                                       "digest_at": "17:30", "quiet_start": None,
                                                       "quiet_end": None})
    assert (again["version"], again["digest"], again["digest_at"], again["quiet_start"]) == (2, True, "17:30", None)
    same = await client.call("notices.settings.set", {"role": "shipping", "version": 2, "digest": True})
    assert same == again  # nothing changed: the version stays

    with pytest.raises(CallError) as stale:
        await client.call("notices.settings.set", {"role": "shipping", "version": 1, "digest": False})
    assert stale.value.code == "conflict"
    assert stale.value.details["current"] == again and stale.value.details["your_version"] == 1
    with pytest.raises(CallError) as never:
        await client.call("notices.settings.set", {"role": "sales", "version": 3, "digest": False})
    assert never.value.code == "conflict" and "version 0" in never.value.message


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"email_enabled": True}, "email", "no address"),
    ({"quiet_start": "22:00"}, "quiet_end", "both a start and an end"),
    ({"quiet_start": "22:00", "quiet_end": "22:00"}, "quiet_end", "same time"),
    ({"quiet_start": "25:00", "quiet_end": "07:00"}, "quiet_start", "HH:MM"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "not a time zone"),
    ({"email": "dougie at glen"}, "email", "e-mail address"),
    ({"digest": "yes"}, "digest", "true or false"),
])
async def test_settings_that_do_not_fit_are_refused_in_plain_words(
    client: ShopClient, change: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(CallError) as refused:
        await client.call("notices.settings.set", {"role": "shipping", "version": 0, **change})
    assert refused.value.code == "invalid" and refused.value.details["field"] == field
    assert words in refused.value.message
    assert (await client.call("notices.settings.get", {"role": "shipping"}))["version"] == 0


async def test_each_person_reads_and_changes_only_their_own_settings(tmp_path: Path) -> None:
    store = await ShopStore.open(f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}")
    try:
        handlers = ShopHandlers(store, "glen", dev_mode=False)  # logins per person, as `kiltshop provision` makes

        async def call(user: str, method: str, params: dict[str, Any]) -> Any:
            return await handlers(Call(method, params, str(uuid.uuid4()), user))

        await call("glen.shipping.dougie", "notices.settings.set",
                   {"role": "shipping", "version": 0, "email_enabled": True, "email": "dougie@glen.example"})
        angus = await call("glen.shipping.angus", "notices.settings.get", {"role": "shipping"})
        assert (angus["user"], angus["version"], angus["email"]) == ("glen.shipping.angus", 0, "")
        dougie = await call("glen.shipping.dougie", "notices.settings.get", {"role": "shipping"})
        assert (dougie["user"], dougie["email"]) == ("glen.shipping.dougie", "dougie@glen.example")
        with pytest.raises(Exception) as other_role:
            await call("glen.shipping.dougie", "notices.settings.get", {"role": "workshop"})
        assert getattr(other_role.value, "code", None) == "forbidden"
        with pytest.raises(Exception) as store_login:
            await call("glen.store", "notices.settings.get", {"role": "shipping"})
        assert getattr(store_login.value, "code", None) == "forbidden"
    finally:
        await store.close()


# -- billing --------------------------------------------------------------------------------------------------


async def test_billing_lists_ready_and_collected_orders_with_totals_per_day(client: ShopClient) -> None:
    first = await complete(client, await ready_order(client, "Morag MacLeod"))
    await complete(client, await ready_order(client, "Hamish Grant"))
    await client.call("orders.collect", {"id": first["id"], "version": first["version"]})
    await ready_order(client, "Isla Munro")  # in progress: not billed yet

    pickups = await client.call("pickups.list", {})
    assert [o["number"] for o in pickups["items"]] == ["K-0002"]
    today = local_day(pickups["items"][0]["updated_at"], ZoneInfo("Europe/London"))  # the shop's day
    assert pickups["days"] == [{"date": today, "count": 1, "total_due_pence": 53100}]
    assert (pickups["count"], pickups["total_due_pence"]) == (1, 53100)

    page = await client.call("pickups.billing", {"limit": 1})
    assert [o["number"] for o in page["items"]] == ["K-0001"] and page["next_cursor"] is not None
    assert (page["count"], page["total_due_pence"]) == (2, 106200)  # every page, not just this one
    assert page["days"] == [{"date": today, "count": 2, "total_due_pence": 106200}]
    collected = page["items"][0]
    assert collected["status"] == "collected" and collected["collected_at"] >= collected["ready_at"]
    assert collected["amount_due_pence"] == 53100 and collected["contact"]["name"] == "Morag MacLeod"
    rest = await client.call("pickups.billing", {"limit": 1, "cursor": page["next_cursor"]})
    assert [(o["number"], o["collected_at"]) for o in rest["items"]] == [("K-0002", None)]
    assert rest["next_cursor"] is None

    tomorrow = (datetime.fromisoformat(today) + timedelta(days=1)).date().isoformat()
    later = await client.call("pickups.billing", {"since": tomorrow})
    assert (later["items"], later["days"], later["total_due_pence"]) == ([], [], 0)
    assert (await client.call("pickups.billing", {"since": today, "until": today}))["count"] == 2
    with pytest.raises(CallError) as backwards:
        await client.call("pickups.billing", {"since": tomorrow, "until": today})
    assert backwards.value.code == "invalid" and backwards.value.details["field"] == "until"
    with pytest.raises(CallError) as not_a_day:
        await client.call("pickups.billing", {"since": "2026-02-30"})
    assert not_a_day.value.details["field"] == "since"


# -- when a notice is due -------------------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


BASE = {"timezone": "UTC", "quiet_start": None, "quiet_end": None, "digest": False, "digest_at": "08:00"}


def test_without_quiet_hours_or_digest_a_notice_is_due_at_once() -> None:
    plan = plan_notice(BASE, at("2026-03-14T13:05:00"))
    assert (plan.status, plan.kind, plan.due_at) == ("due", "single", at("2026-03-14T13:05:00"))


@pytest.mark.parametrize(("now", "due"), [
    ("2026-03-14T22:30:00", "2026-03-15T07:00:00"),  # in quiet hours before midnight
    ("2026-03-15T03:00:00", "2026-03-15T07:00:00"),  # after midnight
    ("2026-03-15T07:00:00", None),  # they have ended
    ("2026-03-14T20:59:00", None),  # not begun
])
def test_quiet_hours_across_midnight(now: str, due: str | None) -> None:
    plan = plan_notice({**BASE, "quiet_start": "21:00", "quiet_end": "07:00"}, at(now))
    if due is None:
        assert plan.status == "due"
    else:
        assert (plan.status, plan.due_at) == ("held", at(due))


def test_quiet_hours_in_the_day_and_in_local_time() -> None:
    settings = {**BASE, "quiet_start": "12:00", "quiet_end": "14:00", "timezone": "Europe/London"}
    # 12:30 in London in summer is 11:30 UTC; the quiet hours end at 14:00 London, 13:00 UTC
    plan = plan_notice(settings, at("2026-07-01T11:30:00"))
    assert (plan.status, plan.due_at) == ("held", at("2026-07-01T13:00:00"))
    assert plan_notice(settings, at("2026-07-01T13:00:00")).status == "due"


def test_a_digest_is_due_at_the_next_digest_time_after_quiet_hours() -> None:
    digest = {**BASE, "digest": True, "digest_at": "08:00"}
    assert plan_notice(digest, at("2026-03-14T07:59:00")).due_at == at("2026-03-14T08:00:00")
    assert plan_notice(digest, at("2026-03-14T08:01:00")).due_at == at("2026-03-15T08:00:00")
    assert plan_notice(digest, at("2026-03-14T08:01:00")).kind == "digest"
    late = {**digest, "quiet_start": "06:00", "quiet_end": "09:30"}  # a digest hour inside quiet hours waits
    assert plan_notice(late, at("2026-03-14T07:00:00")).due_at == at("2026-03-14T09:30:00")


def test_retries_back_off_and_are_capped() -> None:
    assert [retry_delay(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


# -- the words of the mails ---------------------------------------------------------------------------------

EVENT: dict[str, Any] = {
    "seq": 7, "event": "order.completed", "at": "2026-03-14T16:45:12.004Z", "actor": "macgrudder",
    "data": {"id": 1, "number": "K-0001", "contact_id": 1, "status": "completed", "notes": "",
             "placed_at": "2026-03-10T10:00:00.000Z", "total_pence": 50100, "items": [
                 {"description": "Kilt, 8 yard", "tartan": "Campbell Ancient", "quantity": 1,
                  "unit_price_pence": 45000},
                 {"description": "Kilt pin", "tartan": "", "quantity": 2, "unit_price_pence": 2550}]},
}
MORAG = {"name": "Morag Campbell", "address": "12 High St\nInverness", "phone": "+44 131 555 0199",
         "email": "morag@example.org", "measurements": {"waist_cm": 86.0, "hip_cm": None, "length_cm": 61.5}}


def test_the_ready_mail_says_what_for_whom_where_and_what_to_bill() -> None:
    mail = compose(Notice(EVENT, MORAG), "the workshop at Bridge of Orchy", "Europe/London")
    assert mail.subject == "Kilt ready to collect: order K-0001 for Morag Campbell, £501.00 to bill"
    assert "Marked completed on 14 Mar 2026 at 16:45 (GMT) by macgrudder." in mail.text
    assert "Collect from: the workshop at Bridge of Orchy" in mail.text
    assert "Deliver to:   12 High St\n              Inverness" in mail.text
    assert "1 × Kilt, 8 yard (Campbell Ancient)  at    £450.00  =    £450.00" in mail.text
    assert "2 × Kilt pin" in mail.text and "£51.00" in mail.text and "£501.00" in mail.text
    unknown = compose(Notice(EVENT, None))
    assert "customer 1" in unknown.subject and "(no address given)" in unknown.text


def test_the_new_order_mail_and_the_digest() -> None:
    placed = compose(Notice({**EVENT, "event": "order.placed"}, MORAG))
    assert placed.subject == "New order K-0001 from Morag Campbell: 1 × Kilt, 8 yard (Campbell Ancient) and 1 more"
    assert "waist 86 cm, hip not taken, length 61.5 cm" in placed.text
    many = [Notice({**EVENT, "seq": n, "data": {**EVENT["data"], "number": f"K-{n:04d}"}}, MORAG)
            for n in range(1, 11)]
    digest = compose_digest(list(reversed(many)))
    assert digest.subject == ("Kiltshop digest: 10 kilts ready to collect (K-0001, K-0002, K-0003, K-0004, "
                              "K-0005, K-0006, K-0007, K-0008 and 2 more)")
    assert digest.text.index("== Order K-0001 ==") < digest.text.index("== Order K-0010 ==")
    assert "£5,010.00 to bill in all" in digest.text


def test_a_mail_keeps_its_message_id_when_made_again() -> None:
    one = mail_id(["event-1"], "user:dougie/shipping", "notices@glen.example")
    assert one == mail_id(["event-1"], "user:dougie/shipping", "notices@glen.example")
    assert one != mail_id(["event-1"], "user:angus/shipping", "notices@glen.example")
    assert one.startswith("<") and one.endswith("@glen.example>")
    assert mail_id(["a", "b"], "r", "s@x.y") == mail_id(["b", "a"], "r", "s@x.y")


# -- the same on PostgreSQL ---------------------------------------------------------------------------------


async def test_billing_notice_settings_and_deliveries_on_postgresql(pg_url: str) -> None:  # noqa: F811
    from app.store.notice_store import NewDelivery, NoticeStore

    store = await ShopStore.open(pg_url)
    try:
        handlers = ShopHandlers(store)

        async def call(method: str, params: dict[str, Any]) -> Any:
            return await handlers.routes[method](Call(method, params, str(uuid.uuid4()), "pg-tester"))

        contact = await call("contacts.create", {"name": "Morag MacLeod"})
        item = {"description": "Kilt", "quantity": 2, "unit_price_pence": 45050}
        order = await call("orders.place", {"contact_id": contact["id"], "items": [item]})
        for action in ("start", "complete"):
            order = await call(f"orders.{action}", {"id": order["id"], "version": order["version"]})
        billing = await call("pickups.billing", {"since": local_day(order["updated_at"], ZoneInfo("Europe/London"))})
        assert (billing["count"], billing["total_due_pence"]) == (1, 90100)
        assert billing["items"][0]["ready_at"] == order["updated_at"]
        assert (await call("pickups.list", {}))["days"] == billing["days"]

        saved = await call("notices.settings.set", {"role": "shipping", "version": 0, "email_enabled": True,
                                                    "email": "dougie@glen.example", "quiet_start": "21:00",
                                                    "quiet_end": "07:00"})
        assert saved["version"] == 1
        notices = NoticeStore(store)
        assert [r["user"] for r in await notices.recipients(["shipping"])] == ["pg-tester"]
        planned = [NewDelivery("user:pg-tester/shipping", "dougie@glen.example", "held", "single",
                               "2026-03-15T07:00:00.000Z")]
        [held] = await notices.open_deliveries("event-1", "order.completed", 4, "K-0001", "{}", planned,
                                               "2026-03-14T22:00:00.000Z")
        assert await notices.open_deliveries("event-1", "order.completed", 4, "K-0001", "{}", planned,
                                             "2026-03-14T22:00:00.000Z") == [held]  # recorded once
        assert await notices.next_held() == "2026-03-15T07:00:00.000Z"
        assert await notices.held_due("2026-03-15T06:59:59.999Z") == []
        assert [d.id for d in await notices.held_due("2026-03-15T07:00:00.000Z")] == [held.id]
        assert await notices.mark_failed([held.id], "down", "2026-03-15T07:00:01.000Z") == (
            "2026-03-15T07:00:01.000Z", 1)
        await notices.mark_dead([held.id], "gave up")
        [revived] = await notices.revive("event-1")
        assert (revived.status, revived.attempts, revived.first_failed_at) == ("due", 0, None)
        await notices.mark_sent([held.id], "<x@glen.example>", "2026-03-15T07:01:00.000Z")
        assert await notices.already_sent([held.id])
    finally:
        await store.close()
