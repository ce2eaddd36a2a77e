"""Offscreen screenshots of each role's window with the demo shop, for the README:

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [docs/screenshots]

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
from ui.main_window import BrokerLogin, RoleWindow


def select_something(window: RoleWindow) -> None:
    """Show each view as someone mid-task would: a row selected, details open."""
    view = window.view
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
        try:
            async with ShopClient(settings.broker_url, namespace) as client:
                await load_demo_data(client)
            login = BrokerLogin(settings.broker_url, namespace, settings.broker_address, settings.broker_user)
            for role in ROLES:
                window = RoleWindow(login, role)
                window.resize(1280, 760)
                window.show()
                await window.open()
                select_something(window)
                await asyncio.sleep(0.8)  # let selection-triggered detail loads finish
                path = outdir / f"{role}.png"
                window.grab().save(str(path))
                print(f"saved {path}")
                await window.shut()
                window.close()
        finally:
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
