"""Cold start of one role's window, as a person meets it:

    python bench/cold_start.py [--role workshop] [--runs 5] [--orders 300]

Starts a shop service in a fresh namespace on the broker (KILTSHOP_BROKER_URL, default the local one), fills
it with some orders, then starts `kiltshop app --role ROLE` offscreen as a new process, several times, and
prints the time from starting that process to the app code starting (run_app: Python and the imports of
`kiltshop`'s command line), the window's first paint and its data shown (the board filled: interactive)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.client.shop_client import ShopClient  # noqa: E402

BROKER = os.environ.get("KILTSHOP_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
KILT = {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}


async def wait_and_fill(namespace: str, orders: int) -> None:
    async with ShopClient(BROKER, namespace, app_id="bench-cold-start") as client:
        for _ in range(200):
            try:
                await client.call("contacts.list", {"limit": 1}, timeout=1)
                break
            except Exception:
                await asyncio.sleep(0.1)
        contact = await client.call("contacts.create", {"name": "Morag MacLeod", "address": "3 Loch View"})
        for _ in range(orders):
            await client.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})


def one_start(env: dict[str, str], role: str) -> dict[str, float]:
    started = time.time()
    run_env = {**env, "KILTSHOP_COLD_START_T0": f"{started:.6f}", "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-m", "app.cli.main", "app", "--role", role], env=run_env, cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    marks = {}
    for line in out.stdout.splitlines():
        if line.startswith("cold-start "):
            _, what, seconds = line.split()
            marks[what] = float(seconds)
    if not {"first_paint", "data_shown"} <= set(marks):
        raise SystemExit(f"the app did not report its start:\n{out.stdout}\n{out.stderr}")
    return marks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", default="workshop")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "KILTSHOP_BROKER_URL": BROKER, "KILTSHOP_NAMESPACE": namespace,
               "KILTSHOP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/shop.sqlite3",
               "XDG_CONFIG_HOME": tmp}  # the app's own settings (window geometry) in a scratch place
        service = subprocess.Popen([sys.executable, "-m", "app.cli.main", "service"], env=env, cwd=REPO,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            asyncio.run(wait_and_fill(namespace, args.orders))
            one_start(env, args.role)  # warm the OS file cache once: a shop's computer has opened it before
            runs = [one_start(env, args.role) for _ in range(args.runs)]
        finally:
            service.terminate()
            service.wait(20)
            from tests.conftest import delete_namespace  # the bench's queues and exchanges go with it

            asyncio.run(delete_namespace(BROKER, namespace))
    for what in ("run_app", "first_paint", "data_shown"):
        values = [r[what] for r in runs]
        print(f"{args.role} {what}: median {statistics.median(values):.3f} s, "
              f"min {min(values):.3f} s, max {max(values):.3f} s ({args.runs} runs, {args.orders} orders)")


if __name__ == "__main__":
    main()
