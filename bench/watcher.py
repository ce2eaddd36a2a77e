"""A watching process for the change-to-screen benchmark.

    python bench/watcher.py URL NAMESPACE qt|client WINDOWS EXPECTED OUT.json

qt: WINDOWS real sales windows' table models (MirrorTableModel + QTableView, offscreen);
client: WINDOWS client-layer mirrors only (no Qt). Each change's contact notes carry "bench <send time>";
the latency of a window is taken when its model (or mirror) holds the new value. Prints "ready" once every
window has its snapshot; writes the latencies to OUT.json after EXPECTED changes per window (or 60 s)."""

# ruff: noqa: I001  (PySide6 must be imported before qasync)
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.client.live_mirror import LiveShop, Mirror, MirrorListener
from app.client.shop_client import ShopClient
import contextlib


def latency_of(entity: dict[str, Any]) -> float | None:
    notes = entity.get("notes", "")
    if not notes.startswith("bench "):
        return None
    return time.time() - float(notes.split()[1])


async def watch(url: str, namespace: str, mode: str, windows: int, expected: int, out: Path) -> None:
    results: list[list[float]] = [[] for _ in range(windows)]
    done = asyncio.Event()
    clients = []
    keep: list[Any] = []
    for i in range(windows):
        client = ShopClient(url, namespace, app_id=f"bench-watch-{i}")
        await client.connect()
        clients.append(client)
        contacts = Mirror("contact", "contacts.list")

        def record(value: float | None, slot: list[float] = results[i]) -> None:
            if value is not None:
                slot.append(value)
                if all(len(r) >= expected for r in results):
                    done.set()

        if mode == "qt":
            from PySide6.QtWidgets import QTableView

            from ui.partials.mirror_table_model import ENTITY_ROLE, Column, MirrorTableModel

            model = MirrorTableModel(contacts, [Column("Name", lambda c: c["name"]),
                                                Column("Notes", lambda c: c["notes"])])
            view = QTableView()
            view.setModel(model)
            view.resize(600, 400)
            view.show()

            def changed(top: Any, _bottom: Any, _roles: Any = None, m: Any = model,
                        rec: Any = record) -> None:
                rec(latency_of(m.index(top.row(), 1).data(ENTITY_ROLE)))

            model.dataChanged.connect(changed)
            keep += [model, view]
        else:
            contacts.listen(MirrorListener(upsert=lambda e, _p, _ev, rec=record: rec(latency_of(e))))
        live = LiveShop(client, [contacts])
        await live.start()
        keep.append(live)
    print("ready", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 60)
    out.write_text(json.dumps(results))
    for client in clients:
        await client.close()


def main() -> None:
    url, namespace, mode, windows, expected, out = sys.argv[1:7]
    coro = watch(url, namespace, mode, int(windows), int(expected), Path(out))
    if mode == "qt":
        from PySide6.QtWidgets import QApplication

        import qasync

        QApplication(sys.argv[:1])
        qasync.run(coro)
    else:
        asyncio.run(coro)


if __name__ == "__main__":
    main()
