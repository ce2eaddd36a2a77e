"""The sales presenter without a display, against the real service: field-level merge on a lost race, the
save message that belongs to one contact, what leaving the form would lose."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.client.presenters.contact_edit import flat, merge
from app.client.presenters.sales import SalesPresenter
from app.client.role_session import RoleSession
from app.client.shop_client import ShopClient
from app.config import Settings
from app.service.shop_service import ShopService
from tests.support import wait_until

MORAG = {"name": "Morag MacLeod", "email": "morag@example.co.uk", "phone": "01838 400200",
         "address": "3 Loch View\nTyndrum", "measurements": {"waist_cm": 86.0, "hip_cm": 98.0, "length_cm": 58.0}}


@pytest.fixture
async def sales(settings: Settings, service: ShopService) -> AsyncIterator[RoleSession]:
    async with ShopClient(settings.broker_url, settings.namespace, app_id="test-sales") as c:
        session = RoleSession(c, "sales")
        await session.start()
        yield session


def form_of(contact: dict[str, object], **changes: object) -> dict[str, object]:
    """What the sales form would send: every field, as loaded, with some retyped."""
    fields = {k: contact.get(k) or "" for k in ("name", "email", "phone", "address", "notes")}
    fields["measurements"] = dict(contact["measurements"])  # type: ignore[call-overload]
    fields.update(changes)
    return fields


def test_merge_takes_each_side_and_flags_only_fields_both_changed() -> None:
    base = {"name": "Morag", "email": "a@x.uk", "phone": "1", "notes": "", "measurements": {"waist_cm": 86}}
    theirs = {"name": "Morag", "email": "b@x.uk", "phone": "1", "notes": "Wedding in May",
              "measurements": {"waist_cm": 86.0}, "version": 2}
    mine = {"name": "Morag", "email": "c@x.uk", "phone": "2", "notes": "", "measurements": {"waist_cm": 88}}
    result = merge(base, theirs, mine)
    assert [(c.label, c.theirs, c.mine) for c in result.conflicts] == [("E-mail", "b@x.uk", "c@x.uk")]
    assert result.took_theirs == ["Notes"]
    assert flat(result.fields) == flat({"name": "Morag", "email": "c@x.uk", "phone": "2", "notes": "Wedding in May",
                                        "measurements": {"waist_cm": 88.0}})
    assert flat(result.resolved(keep_mine=False))["email"] == "b@x.uk"
    assert flat(result.resolved(keep_mine=False))["phone"] == "2"  # only the conflict takes theirs
    # Both typed the same thing: no conflict.
    assert merge(base, {**theirs, "email": "c@x.uk"}, mine).conflicts == []


async def test_a_lost_race_on_other_fields_saves_both(sales: RoleSession, client: ShopClient) -> None:
    morag = await client.call("contacts.create", MORAG)
    await wait_until(lambda: morag["id"] in sales.contacts.items)
    presenter = SalesPresenter(sales)
    presenter.load(sales.contacts.items[morag["id"]])
    await client.call("contacts.update", {"id": morag["id"], "version": 1, "notes": "Phoned about the wedding."})
    outcome = await presenter.edit.save(form_of(morag, phone="07700 900123"))
    assert outcome.kind == "saved" and outcome.took_theirs == ["Notes"]
    stored = await client.call("contacts.get", {"id": morag["id"]})
    assert (stored["phone"], stored["notes"], stored["version"]) == ("07700 900123", "Phoned about the wedding.", 3)
    assert presenter.edit.version == 3


async def test_a_field_both_changed_is_a_conflict_and_the_choice_is_sent(
    sales: RoleSession, client: ShopClient
) -> None:
    morag = await client.call("contacts.create", MORAG)
    await wait_until(lambda: morag["id"] in sales.contacts.items)
    presenter = SalesPresenter(sales)
    presenter.load(sales.contacts.items[morag["id"]])
    await client.call("contacts.update", {"id": morag["id"], "version": 1, "email": "m.macleod@example.com",
                                          "notes": "Phoned."})
    outcome = await presenter.edit.save(form_of(morag, email="morag@glenorchy.scot", phone="07700 900123"))
    assert outcome.kind == "conflict" and outcome.merge is not None
    assert [(c.label, c.theirs, c.mine) for c in outcome.merge.conflicts] == [
        ("E-mail", "m.macleod@example.com", "morag@glenorchy.scot")]
    assert (await client.call("contacts.get", {"id": morag["id"]}))["version"] == 2  # nothing sent yet
    assert presenter.edit.version == 2
    again = await presenter.edit.save(outcome.merge.resolved(keep_mine=False))
    assert again.kind == "saved"
    stored = await client.call("contacts.get", {"id": morag["id"]})
    assert (stored["email"], stored["phone"], stored["notes"]) == ("m.macleod@example.com", "07700 900123", "Phoned.")


async def test_the_saved_message_belongs_to_its_contact(sales: RoleSession, client: ShopClient) -> None:
    morag = await client.call("contacts.create", MORAG)
    hamish = await client.call("contacts.create", {"name": "Hamish Grant"})
    await wait_until(lambda: hamish["id"] in sales.contacts.items)
    presenter = SalesPresenter(sales)
    presenter.load(sales.contacts.items[morag["id"]])
    presenter.say("Saved at 18:05.")
    assert presenter.message() == "Saved at 18:05."
    presenter.load(sales.contacts.items[hamish["id"]])
    assert presenter.message() == ""
    presenter.load(sales.contacts.items[morag["id"]])
    assert presenter.message() == ""  # gone, not kept for later


async def test_words_for_people(sales: RoleSession, client: ShopClient, settings: Settings) -> None:
    morag = await client.call("contacts.create", MORAG)
    await wait_until(lambda: morag["id"] in sales.contacts.items)
    presenter = SalesPresenter(sales)
    assert presenter.unsaved_changes(dirty=True) == "The new contact you started is not saved."
    presenter.load(sales.contacts.items[morag["id"]])
    assert presenter.unsaved_changes(dirty=False) is None
    assert presenter.unsaved_changes(dirty=True) == "Your changes to Morag MacLeod are not saved."
    assert "last changed by someone on this computer on" in presenter.subtitle()  # the guest login
    assert "guest" not in presenter.subtitle()
    sales.contacts.apply({**sales.contacts.items[morag["id"]], "version": 9,
                          "updated_by": f"{settings.namespace}.store"})
    assert "last changed by the web store" in presenter.subtitle()


def test_the_presenters_import_no_qt() -> None:
    """The logic of the windows runs without a display: importing it loads no PySide6."""
    code = ("import sys, app.client.presenters.sales, app.client.presenters.store, "
            "app.client.presenters.duplicates; print(sorted(m for m in sys.modules if m.startswith('PySide6')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "[]"
