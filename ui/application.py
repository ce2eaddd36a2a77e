"""The QApplication: app-wide style, icon and the open windows."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def resource(name: str) -> Path:
    return RESOURCES / name


def icon(name: str) -> QIcon:
    path = resource(f"icons/{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


class KiltshopApplication(QApplication):
    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self.setApplicationName("Kiltshop")
        self.setOrganizationName("Kiltshop")
        self.setApplicationDisplayName("Kiltshop")
        self.setDesktopFileName("org.kiltshop.Kiltshop")
        self.setQuitOnLastWindowClosed(False)  # main() closes connections first, then the loop ends
        self.setWindowIcon(icon("kiltshop"))
        style = resource("style.qss")
        if style.exists():
            self.setStyleSheet(style.read_text(encoding="utf-8"))
