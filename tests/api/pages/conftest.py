"""Fixtures of the page tests (see tests/browser.py): one headless chromium per module,
live servers (on the test's rolled-back transaction, or on committed data), and guarded
tabs that fail the test on a CSP violation, a script error or a request off the server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from tests.browser import CHROMIUM_ARGS, Tab, chromium, live_server, serial_sessions


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # One chromium per test module: while Playwright's sync API runs, its event loop
    # counts as running in the main thread, so code under test elsewhere that calls
    # asyncio.run() (the CLI's worker, for one) must not run inside a browser's lifetime.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live(sessions: sessionmaker[Session]) -> Iterator[str]:
    """The app on the test's own transaction (rolled back at the end): its base URL."""
    with live_server(create_app(serial_sessions(sessions))) as base:
        yield base


@pytest.fixture
def live_committed(committed: Engine) -> Iterator[str]:
    """The app on committed data (its own connections), for tests with a real worker."""
    with live_server(create_app()) as base:
        yield base


@pytest.fixture
def browse(browser: Browser) -> Iterator[Callable[..., Tab]]:
    """``browse(base, phone=False)`` opens a guarded tab; each must end clean."""
    tabs: list[Tab] = []

    def open_tab(base: str, **options: bool) -> Tab:
        tabs.append(Tab.open(browser, base, **options))
        return tabs[-1]

    yield open_tab
    for tab in tabs:
        tab.context.close()
    for tab in tabs:
        tab.assert_clean()
