"""Headless Chromium (Debian's package) against a live server of the app, for page tests.

The server runs in a thread on the test's own database connection, so a page sees the
test's uncommitted data and everything is rolled back afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("page tests need Debian's chromium package (make test installs it)")
    return path


@contextmanager
def live_server(sessions: sessionmaker[Session]) -> Iterator[str]:
    """Serve the app on a free loopback port; yields its base URL."""
    config = uvicorn.Config(
        create_app(sessions), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def browse(url: str, profile: Path, *, screenshot: Path | None = None) -> str:
    """The DOM Chromium builds for ``url`` (after scripts ran); optionally a phone-sized
    screenshot too."""
    args = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    if screenshot is not None:
        shot = [*args, "--window-size=390,1200", f"--screenshot={screenshot}", url]
        subprocess.run(shot, check=True, capture_output=True, timeout=60)
    done = subprocess.run(
        [*args, "--dump-dom", url], check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout
