"""`kiltshop export contacts|orders --format csv|json [--output FILE]`: everything out again, at any time."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from app.client.shop_client import ShopClient
from app.client.shop_export import FORMATS, KINDS, export_text
from app.config import Settings


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", parents=[common], help="write every contact or order out (CSV or JSON)",
                       description="Write every contact or every order out, so the shop is never locked in. "
                       "`kiltshop import contacts` reads the contacts CSV back.")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="csv", help="csv (default) or json")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write to FILE (default: the terminal)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(_run(settings, args))
    return 0


async def _run(settings: Settings, args: argparse.Namespace) -> None:
    client = ShopClient(settings.broker_url, settings.namespace, app_id="kiltshop-export",
                        timeout=settings.call_timeout)
    await client.connect()
    try:
        text, count = await export_text(client, args.kind, args.fmt)
    finally:
        await client.close()
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_atomically(args.output, text)
    print(f"Wrote {count} {args.kind if count != 1 else args.kind[:-1]} to {args.output}.")


def write_atomically(path: Path, text: str) -> None:
    """The whole file or the old one: written next to it, then renamed over it."""
    folder = path.resolve().parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
