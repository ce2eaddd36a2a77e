"""Bringing the three old lists in: a sales CSV, a web-store export (other column names, Windows-1252,
semicolons, a short row) and a vCard file from the shipping guy's phone, with overlapping people, typos,
different capitalisation and missing fields. Against the real service and broker, through the contract.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.client.contact_import import plan_import, run_plan
from app.client.role_session import RoleSession
from app.client.shop_client import ShopClient
from app.config import Settings
from app.importer.matching import Candidate, equivalent, facts_of, norm_phone, pick, probable
from app.importer.plan import build_plan
from app.importer.reading import FileError, read_file
from app.importer.records import SourceRecord
from tests.shop_helpers import cli_env, new_order, run_cli
from tests.support import wait_until

SALES_CSV = """\
Cust No,Full name,E-mail,Tel,Address,Postcode,Waist,Hip,Notes
S-001,Morag MacLeod,Morag.MacLeod@example.co.uk,01838 400200,"3 Loch View, Tyndrum",FK20 8RY,86,98,Wedding kilt 2022
S-002,Hamish Grant,,01838 400300,"12 Station Road, Dalmally",PA33 1AB,,,
S-003,Mhairi O'Brien,mhairi@example.ie,07700 900461,"4 Bridge Street, Dalmally",PA33 1AA,,,
S-004,Callum Fraser,callum.fraser@example.com,0141 496 0011,"22 Byres Road, Glasgow",G11 5RD,92,104,Saturday fittings
S-005,Isla Camerson,isla.c@example.co.uk,,Glen Orchy Farm,PA33 1BD,,,
"""

# The web store's export: its own column names, semicolons, Windows-1252 (the accent in Ó), a broken row.
WEBSTORE_CSV = """\
Customer;Email Address;Phone Number;Street;Town;Post Code;Company;Last Updated;Newsletter
MORAG MACLEOD;morag.macleod@example.co.uk;+44 1838 400201;3 Loch View;Tyndrum;FK20 8RY;;2024-05-20;yes
Mhairi Ó Briain;mhairi.obriain@example.ie;+44 7700 900461;4 Bridge Street;Dalmally;PA33 1AA;;02/04/2024;no
callum fraser;CALLUM.FRASER@EXAMPLE.COM;;22 Byres Rd;Glasgow;G11 5RD;Fraser Pipes Ltd;2024-01-15;yes
Eilidh Ross;eilidh.ross@example.org;07700 900777;1 Shore Street;Oban;PA34 4LY;;2024-05-30;no
Short Row;only@example.org
Donald Munro;donald@example.net;01631 500600;5 Harbour View;Oban;PA34 5AB;Munro Boats;2024-03-03;yes
"""

SHIPPING_VCF = """\
BEGIN:VCARD
VERSION:3.0
FN:Hamish Grant
N:Grant;Hamish;;;
TEL;TYPE=CELL:07700 900300
ADR;TYPE=HOME:;;12 Station Road;Dalmally;;PA33 1AB;UK
ORG:Grant Haulage
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Callum Fraser
EMAIL;TYPE=home:callum.fraser@example.com
TEL;VALUE=uri;TYPE="voice,cell":tel:+44-7700-900-111
BDAY:19790312
REV:20250110T120000Z
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Isla Cameron
EMAIL:isla.c@example.co.uk
TEL;TYPE=CELL:07700 900555
item1.TEL:01838 200100
item1.X-ABLabel:Farm
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Ruairidh MacNeil
TEL;TYPE=CELL:07700 900999
ADR:;;Craignure Pier;Isle of Mull;;PA65 6AY;
NOTE:Collects in person
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Fiona Lamont
NOTE:Pays cash at the door
ORG:Lamont Bakery
END:VCARD
"""

# Who the shop should hold afterwards: each person once (the two Hamishes and the two Mhairis are probably
# one person each, so they are listed for review, not merged).
EXPECTED_NAMES = sorted([
    "Eilidh Ross", "Morag MacLeod", "Hamish Grant", "Hamish Grant", "Mhairi O'Brien", "Mhairi Ó Briain",
    "Callum Fraser", "Isla Cameron", "Donald Munro", "Ruairidh MacNeil", "Fiona Lamont",
])


def day(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def write_lists(folder: Path) -> list[Path]:
    """The three old lists, dated as they were last touched: sales oldest, the phone newest."""
    sales, webstore, shipping = folder / "sales.csv", folder / "webstore.csv", folder / "shipping.vcf"
    sales.write_text(SALES_CSV, encoding="utf-8")
    webstore.write_bytes(WEBSTORE_CSV.replace("\n", "\r\n").encode("cp1252"))
    shipping.write_text(SHIPPING_VCF.replace("\n", "\r\n"), encoding="utf-8")
    for path, when in ((sales, "2023-03-01"), (webstore, "2024-06-01"), (shipping, "2025-01-10")):
        os.utime(path, (day(when), day(when)))
    return [sales, webstore, shipping]


def read_all(paths: list[Path]) -> list[SourceRecord]:
    return [record for path in paths for record in read_file(path).records]


async def everyone(client: ShopClient) -> list[dict[str, Any]]:
    items, _ = await client.list_all("contacts.list")
    return [await client.call("contacts.get", {"id": c["id"]}) for c in items]


async def seq_now(client: ShopClient) -> int:
    return int((await client.call("contacts.list", {"limit": 1}))["seq"])


def holds(contact: dict[str, Any], field: str, value: Any, label: str) -> bool:
    """Whether the contact keeps a value: in the field, in its notes, or in its history."""
    if field in ("waist_cm", "hip_cm", "length_cm"):
        kept = [contact["measurements"][field]] + [
            side.get(field) for h in contact["history"] for side in h["changes"].get("measurements") or []
            if isinstance(side, dict)]
        return any(equivalent(field, value, k) for k in kept if k is not None) or f"{value:g} cm" in contact["notes"]
    if field == "extra":
        return f"{label}: {', '.join(x.strip() for x in str(value).splitlines())}" in contact["notes"]
    if field == "notes":
        return str(value) in contact["notes"]
    kept = [contact[field]] + [v for h in contact["history"] for v in h["changes"].get(field) or [] if v]
    one_line = ", ".join(x.strip() for x in str(value).splitlines() if x.strip())
    return any(equivalent(field, value, k) for k in kept) or one_line in contact["notes"]


def values_of(record: SourceRecord) -> list[tuple[str, Any, str]]:
    out = [(f, v, f) for f, v in record.fields.items() if v not in (None, "")]
    return out + [("extra", value, label) for label, value in record.extras]


def assert_nothing_lost(records: list[SourceRecord], contacts: list[dict[str, Any]]) -> None:
    """Every value of every record is held by one contact: in a field, its notes or its history."""
    for record in records:
        values = values_of(record)
        keepers = [c for c in contacts if all(holds(c, f, v, label) for f, v, label in values)]
        assert keepers, f"{record.origin}: no contact holds all of {values}"


# -- the whole import --------------------------------------------------------------------------------


async def test_three_lists_become_one_clean_contact_list(client: ShopClient, tmp_path: Path) -> None:
    eilidh = await client.call("contacts.create", {"name": "Eilidh Ross", "email": "Eilidh.Ross@example.org",
                                                   "phone": "07700 900777"})
    order = await new_order(client, eilidh["id"])
    sales_window = RoleSession(client, "sales")  # a window open during the import follows it live
    await sales_window.start()
    paths = write_lists(tmp_path)
    records = read_all(paths)
    assert len(records) == 5 + 5 + 5  # the web store's short row is not among them

    done: list[tuple[int, int]] = []
    plan = await plan_import(client, records)
    report = await run_plan(client, plan, batch_size=4, progress=lambda d, t: done.append((d, t)))

    assert report.failures == []
    assert (len(report.created), len(report.updated), len(report.queued)) == (10, 1, 2)
    assert done[-1] == (13, 13) and [d for d, _ in done] == sorted(d for d, _ in done)
    contacts = await everyone(client)
    assert sorted(c["name"] for c in contacts) == EXPECTED_NAMES
    emails = [c["email"] for c in contacts if c["email"]]
    assert len(emails) == len(set(emails)) == 7

    by_name = {c["name"]: c for c in contacts}
    morag = by_name["Morag MacLeod"]  # sales + web store, by e-mail in other capitals
    assert morag["email"] == "morag.macleod@example.co.uk"
    assert morag["phone"] == "+44 1838 400201"  # the web store's is newer
    assert "From sales (2023-03-01): phone: 01838 400200" in morag["notes"]  # the older one is kept
    assert morag["measurements"] == {"waist_cm": 86.0, "hip_cm": 98.0, "length_cm": None}
    assert "Wedding kilt 2022" in morag["notes"] and "Newsletter: yes" in morag["notes"]
    assert morag["history"][0]["via"] == "kiltshop-import/sales+webstore"
    isla = by_name["Isla Cameron"]  # the typo in the old sales list loses to the phone's newer card
    assert "name: Isla Camerson" in isla["notes"] and "phone (farm): 01838 200100" in isla["notes"]
    callum = by_name["Callum Fraser"]  # in all three lists
    assert callum["phone"] == "+44-7700-900-111" and callum["history"][0]["via"] == \
        "kiltshop-import/sales+webstore+shipping"
    assert "Saturday fittings" in callum["notes"] and "Company: Fraser Pipes Ltd" in callum["notes"]
    assert "birthday: 19790312" in callum["notes"]
    assert by_name["Mhairi Ó Briain"]["name"] == "Mhairi Ó Briain"  # Windows-1252 read right

    eilidh_now = by_name["Eilidh Ross"]  # already in the shop: updated, not doubled, her order still hers
    assert eilidh_now["id"] == eilidh["id"] and eilidh_now["version"] == 2
    assert eilidh_now["address"] == "1 Shore Street\nOban\nPA34 4LY" and eilidh_now["phone"] == "07700 900777"
    assert eilidh_now["history"][-1]["via"] == "kiltshop-import/webstore"
    assert eilidh_now["history"][-1]["changes"]["address"] == ["", "1 Shore Street\nOban\nPA34 4LY"]
    assert [o["id"] for o in (await client.call("orders.list", {"contact_id": eilidh["id"]}))["items"]] == [order["id"]]

    pairs = (await client.call("contacts.duplicates", {}))["items"]
    names = {c["id"]: c["name"] for c in contacts}
    assert sorted((names[p["first_id"]], names[p["second_id"]]) for p in pairs) == [
        ("Hamish Grant", "Hamish Grant"), ("Mhairi O'Brien", "Mhairi Ó Briain")]
    assert {p["reason"] for p in pairs} == {"the same name and the same postcode",
                                            "similar names (90%) and the same phone and postcode"}
    assert_nothing_lost(records, contacts)

    # The window open meanwhile followed every change.
    await wait_until(lambda: len(sales_window.contacts.items) == 11 and sales_window.duplicates is not None
                     and len(sales_window.duplicates.items) == 2)
    assert sales_window.contacts.items[eilidh["id"]]["version"] == 2


async def test_a_second_run_changes_nothing(client: ShopClient, settings: Settings, tmp_path: Path) -> None:
    paths = write_lists(tmp_path)
    env = cli_env(settings.broker_url, settings.namespace)
    first = await run_cli(env, "import", "contacts", *map(str, paths))
    assert first.returncode == 0, first.stderr
    assert "Created 11 contacts, updated 0, 2 pairs listed for review" in first.stdout
    assert "webstore.csv: 5 records (CSV, Windows-1252)" in first.stdout
    assert "line 6: this row has 2 columns but the header has 9" in first.stdout
    before = await seq_now(client)

    again = await run_cli(env, "import", "contacts", *map(str, paths))
    assert again.returncode == 0, again.stderr
    assert "Created 0 contacts, updated 0; 11 already up to date." in again.stdout
    assert await seq_now(client) == before
    dry = await run_cli(env, "import", "contacts", *map(str, paths), "--dry-run", "--json")
    plan = json.loads(dry.stdout)["plan"]
    assert (plan["create"], plan["update"], plan["review"], len(plan["unchanged"])) == ([], [], [], 11)


async def test_dry_run_shows_the_plan_and_changes_nothing(
    client: ShopClient, settings: Settings, tmp_path: Path
) -> None:
    await client.call("contacts.create", {"name": "Eilidh Ross", "email": "eilidh.ross@example.org"})
    before = await seq_now(client)
    result = await run_cli(cli_env(settings.broker_url, settings.namespace), "import", "contacts",
                           *map(str, write_lists(tmp_path)), "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Dry run: nothing was changed." in out
    assert "Would create 10 contacts:" in out
    assert "  + Morag MacLeod <morag.macleod@example.co.uk>  (from sales.csv line 2, webstore.csv line 2)" in out
    assert "Would update 1 contact:\n  ~ Eilidh Ross (#1): phone, address, notes  (from webstore.csv line 5)" in out
    assert "Would list 2 pairs for review in the sales window:" in out
    assert "similar names (90%) and the same phone and postcode" in out
    assert await seq_now(client) == before
    assert len((await client.call("contacts.list", {}))["items"]) == 1


async def test_an_interrupted_import_resumes_without_duplicates(client: ShopClient, tmp_path: Path) -> None:
    records = read_all(write_lists(tmp_path))
    plan = await plan_import(client, records)
    assert len(plan.creates) == 11

    class Stop(Exception):
        pass

    def stop_after_first_batch(done: int, _total: int) -> None:
        raise Stop(f"stopped after {done}")  # as a crash or Ctrl+C right after the first batch was answered

    with pytest.raises(Stop):
        await run_plan(client, plan, batch_size=3, progress=stop_after_first_batch)
    assert len((await client.call("contacts.list", {}))["items"]) == 3

    # The same plan again (a retry that never heard the first replies): the ledger answers, nobody is doubled.
    seq_before = await seq_now(client)
    again = await run_plan(client, plan, batch_size=3)
    assert again.failures == [] and len(again.created) == 11
    assert await seq_now(client) == seq_before + 8 + 2  # only the eight not yet made, and the two pairs

    # Planned afresh, the import finds everything done.
    fresh = await plan_import(client, records)
    assert fresh.calls == 0 and len(fresh.unchanged) == 11
    contacts = await everyone(client)
    assert sorted(c["name"] for c in contacts) == EXPECTED_NAMES
    assert len((await client.call("contacts.duplicates", {}))["items"]) == 2
    assert_nothing_lost(records, contacts)


async def test_a_call_whose_reply_was_lost_is_not_done_twice(client: ShopClient, tmp_path: Path) -> None:
    """Fiona has only a name, a note and a company: nothing to match her by. The import sent her create and
    died before the reply came; the retry sends the same message_id and the service's ledger answers."""
    records = read_all(write_lists(tmp_path))
    plan = await plan_import(client, records)
    fiona = next(c for c in plan.creates if c.params["name"] == "Fiona Lamont")
    sent = await client.call("contacts.create", fiona.params, message_id=fiona.message_id, app_id=fiona.via)
    seq_before = await seq_now(client)
    report = await run_plan(client, plan)
    assert sent in report.created  # the very same reply
    assert await seq_now(client) == seq_before + 10 + 2  # the ten others and the two pairs, not Fiona again
    names = [c["name"] for c in (await client.call("contacts.list", {}))["items"]]
    assert names.count("Fiona Lamont") == 1 and len(names) == 11
    again = await plan_import(client, records)
    assert again.calls == 0  # and planned afresh, she is found: her contact holds all her record says


# -- bad files -----------------------------------------------------------------------------------------


async def test_bad_files_get_clear_errors_and_change_nothing(
    client: ShopClient, settings: Settings, tmp_path: Path
) -> None:
    env = cli_env(settings.broker_url, settings.namespace)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\xef\xbb\xbf\r\n  \r\n")
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    mangled = tmp_path / "mangled.csv"
    mangled.write_bytes(b"Name,Notes\r\nMorag,\x81\x8d\x9d broken\r\n")
    sheet = tmp_path / "customers.xlsx"
    sheet.write_bytes(b"PK\x03\x04" + b"\x14\x00" * 40)
    good = tmp_path / "good.csv"
    good.write_text("Name\nMorag MacLeod\n", encoding="utf-8")
    before = await seq_now(client)
    cases = [
        (empty, "empty.csv is empty: there is nothing to import."),
        (binary, "photo.csv is not a text file (it looks like binary data), so it is neither CSV nor vCard."),
        (mangled, "mangled.csv is neither UTF-8 nor Windows-1252 text (byte 0x81 at position 18 fits neither)"),
        (sheet, "customers.xlsx is a ZIP archive or a spreadsheet (.xlsx/.ods), not a CSV or vCard file."),
        (tmp_path / "missing.csv", "missing.csv does not exist."),
    ]
    for path, message in cases:
        result = await run_cli(env, "import", "contacts", str(good), str(path))
        assert result.returncode == 2, (path, result.stdout, result.stderr)
        assert message in result.stderr and result.stderr.startswith("kiltshop: ")
        assert "Nothing was imported." in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert await seq_now(client) == before


async def test_a_short_row_is_reported_by_line_and_the_rest_imported(
    client: ShopClient, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "old.csv"
    path.write_bytes("Name,Email,Phone\r\nMhairi Ó Briain,mhairi@example.ie,07700 900461\r\nHamish Grant\r\n"
                     "\r\nIsla Cameron,isla@example.org,07700 900555\r\n".encode("cp1252"))
    result = await run_cli(cli_env(settings.broker_url, settings.namespace), "import", "contacts", str(path))
    assert result.returncode == 0, result.stderr
    assert "old.csv: 2 records (CSV, Windows-1252)" in result.stdout
    assert ("  line 3: this row has 1 columns but the header has 3 (too few), so it was not imported; fix the row "
            "and import the file again.") in result.stdout
    names = sorted(c["name"] for c in (await client.call("contacts.list", {}))["items"])
    assert names == ["Isla Cameron", "Mhairi Ó Briain"]


async def test_map_names_the_columns_nobody_knows(client: ShopClient, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "kunden.csv"
    path.write_text("Kunde;E-Post;Rufnummer;Bemerkung\nMorag MacLeod;morag@example.org;01838 400200;Stammkundin\n",
                    encoding="utf-8")
    env = cli_env(settings.broker_url, settings.namespace)
    refused = await run_cli(env, "import", "contacts", str(path))
    assert refused.returncode == 2
    assert "no column holds the name (the columns are Kunde, E-Post, Rufnummer, Bemerkung)" in refused.stderr
    wrong = await run_cli(env, "import", "contacts", str(path), "--map", "Kunde=customer")
    assert wrong.returncode == 2 and "'customer' is not a field" in wrong.stderr
    result = await run_cli(env, "import", "contacts", str(path), "--map", "Kunde=name, E-Post=email,Rufnummer=phone")
    assert result.returncode == 0, result.stderr
    [morag] = (await client.call("contacts.list", {}))["items"]
    assert (morag["name"], morag["email"], morag["phone"]) == ("Morag MacLeod", "morag@example.org", "01838 400200")
    assert morag["notes"].endswith(": Bemerkung: Stammkundin")  # an unknown column is kept in the notes


# -- the rules on their own (no broker) -------------------------------------------------------------------


def test_reading_recognises_common_headers_and_vcards(tmp_path: Path) -> None:
    sales, webstore, shipping = write_lists(tmp_path)
    columns = read_file(webstore).columns
    assert columns["Customer"] == "name" and columns["Email Address"] == "email"
    assert columns["Post Code"] == "postcode" and columns["Last Updated"] == "updated"
    assert columns["Company"] == "extra"
    morag = read_file(sales).records[0]
    assert morag.fields["address"] == "3 Loch View, Tyndrum\nFK20 8RY" and morag.postcode == "FK208RY"
    assert morag.at == datetime(2023, 3, 1, tzinfo=UTC)
    cards = read_file(shipping)
    assert cards.kind == "vCard" and [r.fields["name"] for r in cards.records] == [
        "Hamish Grant", "Callum Fraser", "Isla Cameron", "Ruairidh MacNeil", "Fiona Lamont"]
    callum = cards.records[1]
    assert callum.fields["phone"] == "+44-7700-900-111" and callum.at == datetime(2025, 1, 10, 12, tzinfo=UTC)
    assert ("birthday", "19790312") in callum.extras
    with pytest.raises(FileError, match="no vCards in it"):
        broken = tmp_path / "broken.vcf"
        broken.write_text("VERSION:3.0\nFN:Nobody\n", encoding="utf-8")
        read_file(broken)


def test_a_broken_vcard_is_reported_and_the_others_read(tmp_path: Path) -> None:
    path = tmp_path / "phone.vcf"
    path.write_text("BEGIN:VCARD\nVERSION:3.0\nFN:Morag\nTEL:01838 400200\nEND:VCARD\n"
                    "BEGIN:VCARD\nVERSION:3.0\nFN:Half a card\n"
                    "BEGIN:VCARD\nVERSION:3.0\nFN:Isla\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\nEND:VCARD\n",
                    encoding="utf-8")
    result = read_file(path)
    assert [r.fields["name"] for r in result.records] == ["Morag", "Isla"]
    assert [(p.line, p.message) for p in result.problems] == [
        (6, "this vCard has no END:VCARD; it was not imported."),
        (9, "the photo of Isla is not imported (Kiltshop keeps no pictures or files)."),
    ]


def test_matching_rules() -> None:
    assert norm_phone("+44 (0)1838 400200") == norm_phone("01838 400200") == norm_phone("0044 1838 400 200")
    same_phone = facts_of(["Mhairi O'Brien"], [], ["07700 900461"], [])
    assert probable(same_phone, facts_of(["Mhairi Ó Briain"], [], ["+44 7700 900461"], [])) is not None
    assert probable(same_phone, facts_of(["Morag MacLeod"], [], ["07700 900461"], [])) is None  # another name
    assert probable(same_phone, facts_of(["Mhairi O'Brien"], [], [], ["PA33 1AA"])) is None  # the name alone
    old, new = datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    winner, losers = pick("phone", [Candidate("01838 400200", old, 0, "a"), Candidate("07700 900123", new, 1, "b"),
                                    Candidate("", new, 2, "c")])
    assert winner is not None and winner.value == "07700 900123" and [c.value for c in losers] == ["01838 400200"]
    winner, losers = pick("name", [Candidate("Morag MacLeod", old, 0, "a"), Candidate("MORAG MACLEOD", new, 1, "b")])
    assert winner is not None and winner.value == "Morag MacLeod" and losers == []  # the same, better written
    winner, losers = pick("address", [Candidate("3 Loch View\nTyndrum", old, 10**9, ""),
                                      Candidate("3 Loch View, Tyndrum", new, 1, "sales")])
    assert winner is not None and winner.source == "" and losers == []  # a comma is no reason to change the shop's


def test_the_plan_is_the_same_every_time(tmp_path: Path) -> None:
    records = read_all(write_lists(tmp_path))
    first, second = build_plan(records, []), build_plan(list(reversed(records)), [])
    assert sorted(c.message_id for c in first.creates) == sorted(c.message_id for c in second.creates)
    assert len({c.message_id for c in first.creates}) == 11
