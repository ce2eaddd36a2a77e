"""`kiltshop app` reaches the desktop app by its entry point name only; without the UI it says so plainly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin",
                                                     "HOME": str(ROOT / "var" / "no-home")})


def test_the_app_command_finds_the_desktop_app() -> None:
    result = run("""
        from importlib.metadata import EntryPoint, entry_points
        from app.cli.main import APP_DEFAULT, APP_GROUP
        found = next(iter(entry_points(group=APP_GROUP, name="app")), None)
        entry = found or EntryPoint(name="app", value=APP_DEFAULT, group=APP_GROUP)
        import ui.launch
        assert entry.load() is ui.launch.run_app
        print("ok")
    """)
    assert result.stdout.strip() == "ok", result.stderr


def test_without_the_desktop_app_it_says_so_in_plain_words() -> None:
    result = run("""
        import sys
        sys.modules["ui"] = None  # as on an install without the desktop app: `import ui` fails
        from app.cli.main import main
        sys.exit(main(["app", "--role", "sales"]))
    """)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("kiltshop: The desktop app is not installed here"), result.stderr
    assert "Traceback" not in result.stderr
