"""A normal (non-editable) install carries the desktop app's icon and stylesheet: build the wheel, install it
into a fresh venv, start the app offscreen and check that the icon and the style load from the installed
package (not from this checkout), and that `kiltshop app` finds the app through its entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the wheel is built from: the project's files, not its caches, tests or local state.
IGNORED = shutil.ignore_patterns(".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__",
                                 ".*_cache", "tests", "bench", "docs", "scripts", "packaging")

CHECK = textwrap.dedent("""
    import sys
    from importlib.metadata import entry_points
    from pathlib import Path

    import ui
    from ui.application import RESOURCES, KiltshopApplication

    site = Path(sys.argv[1]).resolve()
    assert Path(ui.__file__).resolve().is_relative_to(site), f"ui imported from {ui.__file__}, not the wheel"
    app = KiltshopApplication([])
    assert not app.windowIcon().pixmap(32, 32).isNull(), "no icon"
    assert app.styleSheet().strip(), "no stylesheet"
    assert app.styleSheet() == (RESOURCES / "style.qss").read_text(encoding="utf-8")
    [command] = entry_points(group="kiltshop.commands", name="app")
    from ui.launch import run_app
    assert command.load() is run_app
    print("loaded", RESOURCES)
""")


@pytest.mark.slow
def test_installed_wheel_loads_icon_and_style(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = wheels.glob("kiltshop-*.whl")

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    # The wheel's dependencies (PySide6 and the rest) come from this interpreter's site-packages, added as a
    # plain path after the venv's own: its editable-install hooks (.pth files) do not run there, so `app` and
    # `ui` can only come from the wheel.
    (site / "zz-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": ""}
    run = subprocess.run([str(python), "-c", CHECK, str(site)], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert str(site) in run.stdout
