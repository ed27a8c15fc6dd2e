"""Page tests in a real browser: Playwright for Python driving Debian's chromium
(``executable_path``; no browser download), against a live server of the app.

- ``live_server(app)`` serves an app with uvicorn in a thread on a free loopback port.
  ``serial_sessions`` lets the app share the test's rolled-back connection (one request
  at a time uses it); an app built without ``sessions`` uses committed data, for tests
  with a real worker beside it.
- ``Tab`` is one browser tab with guards: every request that is not to the live server is
  aborted and recorded in ``offsite``; Content-Security-Policy violations, uncaught
  errors, console errors and failed sub-requests to the server are recorded in
  ``problems``. ``assert_clean()`` fails on either (the fixture calls it when the test
  ends). ``phone=True`` gives a 390 x 844 touch viewport, ``fits_phone()`` checks that
  nothing scrolls sideways, and ``screenshot(name)`` writes a PNG under
  ``$FIELDRECALL_SCREENSHOTS`` (default ``var/screenshots``).

The fixtures that use these live in ``tests/api/pages/conftest.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route
from playwright.sync_api import Response as PageResponse
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# Reports every CSP violation, whatever the page does with it (runs before page scripts;
# Playwright injects it outside the page's CSP).
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("page tests need Debian's chromium package (make test installs it)")
    return path


def serial_sessions(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """``sessions``, but one session at a time: the live server answers requests in several
    threads, and they all share the test's single connection."""
    lock = threading.Lock()

    class SerialSession(Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            lock.acquire()
            self._holds_lock = True
            super().__init__(*args, **kwargs)

        def close(self) -> None:
            try:
                super().close()
            finally:
                if self._holds_lock:
                    self._holds_lock = False
                    lock.release()

    return sessionmaker(class_=SerialSession, **sessions.kw)


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
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
        # Requests still in flight (a service worker keeping pages, queued behind the
        # shared connection's lock) finish before the test's transaction is rolled back:
        # a server left running would use the connection during the rollback.
        server.should_exit = True
        thread.join(timeout=120)
        if thread.is_alive():
            raise RuntimeError("the test server did not stop within 120 s")


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("FIELDRECALL_SCREENSHOTS") or ROOT / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Tab:
    """One guarded browser tab on the live server at ``base``."""

    context: BrowserContext
    page: Page
    base: str
    offsite: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    offsite_allowed: str | None = None  # requests to addresses starting so may be tried

    @classmethod
    def open(
        cls, browser: Browser, base: str, *, phone: bool = False, service_workers: bool = False
    ) -> Tab:
        workers = "allow" if service_workers else "block"
        context = browser.new_context(**(PHONE if phone else DESKTOP), service_workers=workers)
        context.add_init_script(REPORT_CSP)
        tab = cls(context=context, page=context.new_page(), base=base)
        context.route("**/*", tab._guard)
        tab.page.on("console", tab._console)
        tab.page.on("pageerror", lambda error: tab.problems.append(f"uncaught: {error}"))
        tab.page.on("response", tab._response)
        return tab

    def _guard(self, route: Route) -> None:
        url = route.request.url
        if url == self.base or url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.offsite.append(url)
            route.abort("blockedbyclient")

    def _console(self, message: ConsoleMessage) -> None:
        # A request the guard aborted is in `offsite`; any other console error is a problem.
        if message.type == "error" and not re.match(r"Failed to load resource", message.text):
            self.problems.append(f"console: {message.text}")

    def _response(self, response: PageResponse) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} for {response.url}")

    def goto(self, path: str, **kwargs: Any) -> PageResponse:
        response = self.page.goto(self.base + path, **kwargs)
        assert response is not None
        return response

    def drawn(self, selector: str, *, timeout_ms: float = 20_000) -> None:
        """Wait until the widget at ``selector`` is drawn (pages.js sets data-state)."""
        self.page.wait_for_selector(
            f"{selector}[data-state=drawn], {selector}[data-state=failed]", timeout=timeout_ms
        )
        state = self.page.get_attribute(selector, "data-state")
        assert state == "drawn", self.page.inner_text(selector)

    def fits_phone(self) -> bool:
        """Nothing on the page scrolls sideways."""
        return bool(self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        """``<screenshots>/<name>.png``: the whole page, or what the viewport shows."""
        path = screenshot_dir() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def assert_clean(self) -> None:
        """No CSP violation, script error or failed request; no request left the server
        (but for addresses that start with ``offsite_allowed``, which were aborted too)."""
        allowed = self.offsite_allowed
        offsite = [u for u in self.offsite if not (allowed and u.startswith(allowed))]
        assert self.problems == [] and offsite == [], {
            "problems": self.problems,
            "offsite": offsite,
        }
