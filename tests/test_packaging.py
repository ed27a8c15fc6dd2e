"""The wheel carries everything the pages need: every template and every static file
(vendored libraries, their licences and manifest, the pages' own CSS and JS)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "devices", "recall", "routing", "api", "migrations")


def _page_files() -> set[str]:
    templates = {p for p in ROOT.glob("*/**/templates/*.html") if ".venv" not in p.parts}
    static = {p for p in (ROOT / "api" / "static").rglob("*") if p.is_file()}
    return {p.relative_to(ROOT).as_posix() for p in templates | static}


def test_the_wheel_holds_every_template_and_static_file(tmp_path: Path) -> None:
    # Built from a copy, so the build leaves nothing in the work tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "dist").glob("fieldrecall-*.whl")
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    expected = _page_files()
    assert len(expected) > 30
    assert {"api/static/vendor/manifest.json", "api/pages/templates/base.html"} <= expected
    assert expected - in_wheel == set()
