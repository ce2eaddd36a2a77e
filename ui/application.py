"""The QApplication: app-wide style, icon and the open windows."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parent / "resources"  # packaged with ui (pyproject.toml package-data)


class MissingResource(RuntimeError):
    """The app's icon or stylesheet is not where it was installed: a broken install, said at start."""


def resource(name: str) -> Path:
    path = RESOURCES / name
    if not path.is_file():
        raise MissingResource(
            f"This Kiltshop installation is incomplete: {name} is missing from {RESOURCES}. Reinstall Kiltshop."
        )
    return path


def icon(name: str) -> QIcon:
    loaded = QIcon(str(resource(f"icons/{name}.svg")))
    if loaded.pixmap(16, 16).isNull():  # the file is there but Qt cannot draw it (damaged, or no SVG plugin)
        raise MissingResource(f"This Kiltshop installation is incomplete: the icon {name}.svg cannot be shown. "
                              "Reinstall Kiltshop.")
    return loaded


class KiltshopApplication(QApplication):
    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self.setApplicationName("Kiltshop")
        self.setOrganizationName("Kiltshop")
        self.setApplicationDisplayName("Kiltshop")
        self.setDesktopFileName("org.kiltshop.Kiltshop")
        self.setQuitOnLastWindowClosed(False)  # main() closes connections first, then the loop ends
        self.setWindowIcon(icon("kiltshop"))
        self.setStyleSheet(resource("style.qss").read_text(encoding="utf-8"))
