"""The database of a benchmark that empties its tables.

Such a benchmark never uses DATABASE_URL (the project's own data): it takes
BENCH_DATABASE_URL when set, else a local database of its own name, which
scripts/ensure_db.sh starts and creates when missing. One helper for
``import_units.py``, ``detection_scale.py``, ``console_pages.py``, ``api_load.py``,
``slot_offers.py``, ``plan_scale.py``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_database_url(default_name: str) -> str:
    """BENCH_DATABASE_URL, else the URL of the local database ``default_name``."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url
    # With DATABASE_URL set, ensure_db.sh would echo it back instead of making the
    # benchmark's database: the child runs without it.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [str(ROOT / "scripts" / "ensure_db.sh"), default_name],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()
