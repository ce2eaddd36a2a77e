"""`kiltshop import contacts FILE...`: bring old contact lists (CSV, vCard) into the shop without losing
anyone and without doubling anyone (app/importer/ plans, app/client/contact_import.py sends)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from app.client.contact_import import DEFAULT_BATCH, ImportReport, plan_import, run_plan
from app.client.shop_client import ServiceUnavailable, ShopClient
from app.config import Settings
from app.importer.matching import PROBABLE_NAME_SCORE
from app.importer.plan import ImportPlan
from app.importer.reading import FileError, ReadResult, header_key, parse_map, read_file
from app.importer.records import SourceRecord

EXIT_REFUSED = 1
EXIT_USAGE = 2


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    what = sub.add_parser("import", parents=[common], help="bring old lists into the shop").add_subparsers(
        dest="action", metavar="WHAT", required=True)
    p = what.add_parser("contacts", parents=[common], help="contacts from CSV or vCard files, merged and deduplicated",
                        description="Import CSV (any column order) and vCard 3/4 files. The same e-mail is the same "
                        "person; alike names with the same phone or postcode are listed for review in the sales "
                        "window. Running it again changes nothing; an interrupted import resumes.")
    p.add_argument("files", nargs="+", metavar="FILE", type=Path, help="CSV or vCard (.vcf) files")
    p.add_argument("--source", help="name of the list the files come from (default: each file's name)")
    p.add_argument("--source-date", type=_day, metavar="YYYY-MM-DD",
                   help="when the files were last right (default: each file's modification time); newer wins")
    p.add_argument("--map", dest="column_map", metavar="'COLUMN=field,...'",
                   help="say what a CSV column holds, e.g. 'Full name=name,Tel=phone' (fields: name, first_name, "
                   "last_name, email, phone, address, postcode, notes, waist_cm, hip_cm, length_cm, updated, key, "
                   "meta, extra)")
    p.add_argument("--dry-run", action="store_true", help="show what would be created, merged and queued; change "
                   "nothing")
    p.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH, metavar="N", help="calls sent at once")
    p.add_argument("--threshold", type=_percent, default=PROBABLE_NAME_SCORE, metavar="PERCENT",
                   help=f"how alike names must be to be listed for review (default {PROBABLE_NAME_SCORE})")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-05-31") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _percent(text: str) -> int:
    if not text.isdigit() or not 50 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 50 to 100")
    return int(text)


class ImportFilesError(ValueError):
    """One or more files cannot be imported at all (main prints it as a usage error)."""


def read_files(args: argparse.Namespace) -> list[ReadResult]:
    overrides = parse_map(args.column_map)
    results, errors = [], []
    for path in args.files:
        try:
            results.append(read_file(path, args.source, overrides, args.source_date))
        except FileError as exc:
            errors.append(str(exc))
    if errors:
        raise ImportFilesError(" ".join(errors) + " Nothing was imported.")
    columns = {header_key(column) for r in results for column in r.columns}
    unknown = [header for header in overrides if header not in columns]
    if unknown and any(r.kind == "CSV" for r in results):
        raise ImportFilesError(f"--map names a column that no file has ({', '.join(unknown)}). Nothing was imported.")
    return results


def run(settings: Settings, args: argparse.Namespace) -> int:
    results = read_files(args)
    records: list[SourceRecord] = [r for result in results for r in result.records]
    if not args.json:
        for result in results:
            print(f"{result.file}: {len(result.records)} {'card' if result.kind == 'vCard' else 'record'}"
                  f"{'s' if len(result.records) != 1 else ''} ({result.kind}, {result.encoding})")
            for problem in result.problems:
                print(f"  line {problem.line}: {problem.message}" if problem.line else f"  {problem.message}")
    return asyncio.run(_run(settings, args, results, records))


async def _run(settings: Settings, args: argparse.Namespace, results: list[ReadResult],
               records: list[SourceRecord]) -> int:
    client = ShopClient(settings.broker_url, settings.namespace, app_id="kiltshop-import",
                        timeout=settings.call_timeout)
    await client.connect()
    try:
        plan = await plan_import(client, records, args.threshold)
        if args.dry_run:
            _show_plan(args, results, plan)
            return 0
        tty = sys.stdout.isatty() and not args.json

        def progress(done: int, total: int) -> None:
            if tty:
                print(f"\rImporting… {done}/{total}", end="", flush=True)

        try:
            report = await run_plan(client, plan, args.batch_size, progress)
        except ServiceUnavailable as exc:
            raise ServiceUnavailable(f"{exc.message} The import stopped part way; run the same command again to "
                                     "finish it (nothing already done is done twice).") from None
        finally:
            if tty and plan.calls:
                print()
    finally:
        await client.close()
    _show_report(args, results, plan, report)
    return EXIT_REFUSED if report.failures else 0


def _files_json(results: list[ReadResult]) -> list[dict[str, Any]]:
    return [{"file": r.file, "source": r.source, "kind": r.kind, "encoding": r.encoding, "records": len(r.records),
             "problems": [{"line": p.line, "message": p.message} for p in r.problems]} for r in results]


def _show_plan(args: argparse.Namespace, results: list[ReadResult], plan: ImportPlan) -> None:
    if args.json:
        print(json.dumps({"dry_run": True, "files": _files_json(results), "plan": plan.summary()}, indent=2,
                         ensure_ascii=False))
        return
    print("Dry run: nothing was changed.")
    print(f"Would create {_count(len(plan.creates), 'contact')}:" if plan.creates else "Would create no contacts.")
    for create in plan.creates:
        email = f" <{create.params['email']}>" if create.params.get("email") else ""
        print(f"  + {create.params['name']}{email}  (from {', '.join(r.origin for r in create.records)})")
    print(f"Would update {_count(len(plan.updates), 'contact')}:" if plan.updates else "Would update no contacts.")
    for update in plan.updates:
        print(f"  ~ {update.label}: {', '.join(update.changes)}  (from {', '.join(r.origin for r in update.records)})")
    if plan.reviews:
        print(f"Would list {_count(len(plan.reviews), 'pair')} for review in the sales window:")
        for review in plan.reviews:
            print(f"  ? {review.first_label}  <->  {review.second_label}: {review.reason}")
    else:
        print("Would list no pairs for review.")
    print(f"Already up to date: {_count(len(plan.unchanged), 'contact')}.")
    for warning in plan.warnings:
        print(f"Note: {warning}")


def _show_report(args: argparse.Namespace, results: list[ReadResult], plan: ImportPlan, report: ImportReport) -> None:
    if args.json:
        print(json.dumps({"dry_run": False, "files": _files_json(results), **report.as_json(),
                          "warnings": plan.warnings}, indent=2, ensure_ascii=False))
        return
    for warning in plan.warnings:
        print(f"Note: {warning}")
    for failure in report.failures:
        print(f"Not done: {failure}")
    review = (f", {_count(len(report.queued), 'pair')} listed for review (sales window: Possible duplicates)"
              if report.queued else "")
    print(f"Created {_count(len(report.created), 'contact')}, updated {len(report.updated)}{review}; "
          f"{report.unchanged} already up to date.")
    if report.failures:
        print("Some changes were refused (see above); fix them and run the same import again: what is done stays "
              "done.")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
