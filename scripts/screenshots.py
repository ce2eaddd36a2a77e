"""Offscreen screenshots of each role's window with the demo shop, and of the main states people meet:

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [docs/screenshots]

Saves <role>.png for every role (a row or card selected), undo.png (the workshop just after Start work, with
its Undo bar) and outage.png (the shop service stopped with the broker up: the banner and the status bar).
Runs its own service in a throwaway namespace and database on the local broker, then removes them."""

# ruff: noqa: I001  (PySide6 must be imported before qasync)
from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import uuid
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtWidgets import QApplication

import qasync

from app.client.role_session import ROLES
from app.client.shop_client import ShopClient
from app.config import Settings
from app.demo_data import load_demo_data
from app.service.shop_service import ShopService
from ui.application import KiltshopApplication
from app.client.presenters.health import Health
from ui.main_window import BrokerLogin, RoleWindow
from ui.partials.mirror_table_model import ID_ROLE
from ui.views.workshop_view import WorkshopView


async def open_window(login: BrokerLogin, role: str) -> RoleWindow:
    window = RoleWindow(login, role)
    window.resize(1280, 760)
    window.show()
    await window.open()
    select_something(window)
    await asyncio.sleep(0.8)  # let selection-triggered detail loads finish
    return window


def save(window: RoleWindow, path: Path) -> None:
    window.grab().save(str(path))
    print(f"saved {path}")


async def close(window: RoleWindow) -> None:
    await window.shut()
    window.close()


def select_something(window: RoleWindow) -> None:
    """Show each view as someone mid-task would: a row selected, details open."""
    view = window.view
    if isinstance(view, WorkshopView):
        pending = view.proxies["pending"]
        if pending.rowCount():
            view.select_order(int(pending.index(0, 0).data(ID_ROLE)))
        return
    for name in ("table", "pending_table", "contacts_table"):
        table = getattr(view, name, None)
        if table is not None and table.model() is not None and table.model().rowCount() > 0:
            table.selectRow(min(2, table.model().rowCount() - 1))
            return
    picker = getattr(view, "customer_picker", None) or getattr(view, "picker", None)
    if picker is not None and picker.count() > 1:
        picker.setCurrentIndex(3)


async def shoot(outdir: Path) -> None:
    namespace = f"shots{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(broker_url=os.environ.get("KILTSHOP_BROKER_URL", Settings().broker_url),
                            namespace=namespace, database_url=f"sqlite+aiosqlite:///{tmp}/shop.sqlite3")
        service = ShopService(settings)
        await service.start()
        running = True
        try:
            async with ShopClient(settings.broker_url, namespace) as client:
                await load_demo_data(client)
            login = BrokerLogin(settings.broker_url, namespace, settings.broker_address, settings.broker_user)
            for role in ROLES:
                window = await open_window(login, role)
                save(window, outdir / f"{role}.png")
                await close(window)

            window = await open_window(login, "workshop")
            assert isinstance(window.view, WorkshopView)
            window.view.presenter.moves.hold_s = 3600  # held for the picture; Undone before closing
            window.view.act("start")
            await asyncio.sleep(0.3)
            save(window, outdir / "undo.png")
            window.view.undo()

            await service.stop()  # the broker stays up; the window's watch notices the service is gone
            running = False
            assert window.health is not None
            await window.health.check()
            assert window.health.state == Health.NOT_ANSWERING
            await asyncio.sleep(0.3)
            save(window, outdir / "outage.png")
            await close(window)
        finally:
            if running:
                await service.stop()
            with contextlib.suppress(Exception):
                sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
                from tests.conftest import delete_namespace

                await delete_namespace(settings.broker_url, namespace)


def main() -> int:
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    outdir.mkdir(parents=True, exist_ok=True)
    app = KiltshopApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    qasync.run(shoot(outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
