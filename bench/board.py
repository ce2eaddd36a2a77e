"""The workshop board at scale, in a process of its own (so its memory is its own):

    python bench/board.py URL NAMESPACE OUT.json

Times the start to the first full paint of a real workshop window, reads resident memory, then times the
cost of one incoming event (applied to the board's mirror and model, as the live feed does)."""

# ruff: noqa: I001  (PySide6 must be imported before qasync)
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

import qasync

from bench.stats import percentile
from ui.main_window import BrokerLogin, RoleWindow


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(url: str, namespace: str, out: Path) -> None:
    started = time.perf_counter()
    window = RoleWindow(BrokerLogin(url, namespace, "bench", "guest"), "workshop")
    window.resize(1280, 760)
    window.show()
    await window.open()
    window.grab()  # the first full paint
    first_paint = time.perf_counter() - started
    memory = rss_mb()
    assert window.session is not None
    orders = window.session.orders
    ids = sorted(orders.items)
    costs = []
    for i, order_id in enumerate(ids[: min(300, len(ids))]):
        entity = dict(orders.items[order_id])
        entity["version"] += 1
        entity["notes"] = f"bench {i}"
        event = {"seq": 0, "event": "order.amended", "data": entity}
        t0 = time.perf_counter()
        orders.apply(entity, event)

        costs.append(time.perf_counter() - t0)
    out.write_text(json.dumps({"rows": len(ids), "first_paint_s": first_paint, "rss_mb": memory,
                               "event_p50_s": percentile(costs, 50), "event_p99_s": percentile(costs, 99)}))
    await window.shut()
    window.close()


if __name__ == "__main__":
    QApplication(sys.argv[:1])
    qasync.run(run(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
