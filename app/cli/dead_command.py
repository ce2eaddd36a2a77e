"""`kiltshop dead list|replay`: what landed in `<ns>.dead`, and sending it back (app/client/dead_letters.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
from urllib.parse import unquote, urlsplit

from app.cli import formatting as fmt
from app.client.dead_letters import DeadLetters, listing_text, replay_text
from app.config import Settings
from app.contract import Names
from app.messaging.connection import connect


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    dead = sub.add_parser("dead", parents=[common], help="dead letters: look at them, replay them").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = dead.add_parser("list", parents=[common], help="the dead letters, oldest first (none is taken away)")
    p.add_argument("--limit", type=_positive, default=None, metavar="N", help="show at most N")
    p = dead.add_parser("replay", parents=[common], help="send dead letters back to where they came from")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", metavar="ID", help="the ID that 'kiltshop dead list' shows")
    which.add_argument("--all", action="store_true", help="every dead letter in the queue now")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """0 when everything asked for was done; 1 when a dead letter was kept (the output says why)."""
    return asyncio.run(_run(settings, args))


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    connection = await connect(settings.broker_url, f"kiltshop-cli/dead {settings.namespace}",
                               timeout=settings.call_timeout)
    try:
        user = unquote(urlsplit(settings.broker_url).username or "guest")
        dead = DeadLetters(connection, Names(settings.namespace), user)
        if args.action == "list":
            listing = await dead.peek(args.limit)
            if args.json:
                print(json.dumps({"items": [d.as_json() for d in listing.letters], "total": listing.total},
                                 indent=2, ensure_ascii=False))
            else:
                print(listing_text(listing, fmt.table))
            return 0
        report = await dead.replay(None if args.all else args.id)
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False) if args.json else replay_text(report))
        return 1 if report.refused else 0
    finally:
        await connection.close()
