"""The console in chromium on a phone: sign in through the form, the home page draws its
chart and its map (over tiles that cannot load: the dots show anyway), nothing scrolls
sideways, sign out. No CSP violation or script error on the way (the tab's guard)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.settings import get_settings
from devices.importer import import_csv
from tests.browser import Tab, live_server, serial_sessions
from tests.fixtures import load_registry
from tests.recall.campaigns.fixtures import EXTRA

TILES = "https://tiles.invalid/"


@pytest.fixture
def unreachable_tiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIELDRECALL_MAP_TILE_URL", TILES + "{z}/{x}/{y}.png")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def server(unreachable_tiles: None, sessions: sessionmaker[Session]) -> Iterator[str]:
    with live_server(create_app(serial_sessions(sessions))) as base:
        yield base


def test_sign_in_see_the_chart_and_the_map_sign_out(
    server: str, session: Session, browse: Callable[..., Tab]
) -> None:
    keys = load_registry(session)
    import_csv(session, "sites", EXTRA["sites"].encode(), filename="sites.csv")
    session.commit()
    tab = browse(server, phone=True)
    tab.offsite_allowed = TILES  # the tile requests are tried, and aborted
    page = tab.page

    tab.goto("/console/")
    assert page.url == server + "/console/login?next=%2Fconsole%2F"
    assert tab.fits_phone()
    tab.screenshot("console-login-phone")
    page.fill("#api_key", keys.partner_a)
    page.click("button[type=submit]")
    expect(page.locator("#sign-in-error")).to_contain_text("a partner key cannot sign in")
    page.fill("#api_key", keys.lead)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/console/")
    assert keys.lead not in page.url

    tab.drawn("#failures-per-week")
    tab.drawn("#sites-map")
    # 26 weekly bars; the reports of 3 and 4 November 2025 fall in one week.
    bars = page.locator("#failures-per-week svg .mark-rect path")
    assert bars.count() == 26
    labels = bars.evaluate_all("bars => bars.map(b => b.getAttribute('aria-label'))")
    counts = {
        re.search(r"Week of: ([^;]+)", x)[1]: int(re.search(r"reports: (\d+)", x)[1])
        for x in labels
    }  # type: ignore[index]
    assert {week: n for week, n in counts.items() if n} == {"03 Nov": 2}
    # One dot per site: orange where a unit failed (SA1, SB1), blue elsewhere (SA2, SA3).
    fills = page.locator("#sites-map path.leaflet-interactive").evaluate_all(
        "dots => dots.map(d => d.getAttribute('fill'))"
    )
    assert sorted(fills) == ["#0072B2", "#0072B2", "#D55E00", "#D55E00"]
    assert any(url.startswith(TILES) for url in tab.offsite)  # tiles were asked for
    assert page.locator("a.card").all_inner_texts()[0].startswith("Signals")
    assert tab.fits_phone()
    tab.screenshot("console-home-phone")

    page.click("header button:has-text('Sign out')")
    page.wait_for_url(server + "/console/login")
    tab.goto("/console/")
    assert page.url.startswith(server + "/console/login")


def test_the_console_on_committed_data(
    live_committed: str, committed: Engine, browse: Callable[..., Tab]
) -> None:
    # The server of `live_committed` opens its own connections (as beside a real worker),
    # so the data it shows must be committed; `committed` empties the tables afterwards.
    with transaction(committed) as session:
        keys = load_registry(session)
    tab = browse(live_committed)
    tab.offsite_allowed = "https://tile.openstreetmap.org/"
    tab.goto("/console/login")
    tab.page.fill("#api_key", keys.lead)
    tab.page.click("button[type=submit]")
    tab.drawn("#sites-map")
    assert tab.page.locator("#sites-map path.leaflet-interactive").count() == 3
    tab.screenshot("console-home-desktop")
