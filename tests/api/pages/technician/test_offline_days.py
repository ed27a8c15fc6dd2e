"""The field app's offline days in chromium (Playwright, a live server, a 390 x 844 phone):

- a day never opened, kept when the list of days was opened online, opens offline with
  its map;
- a day kept the evening before (no buttons yet) takes the work offline in the morning,
  by the phone's clock, and the work lands once online;
- work recorded under a link that is then revoked stays waiting on the phone, said
  plainly, and goes out from the technician's new link opened on the same phone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.orm import Session

from routing.plans.models import PlanStop
from tests.api.pages.technician.fixtures import link_base, outcome_events, replan_by_hand
from tests.api.pages.technician.phone import TILES, open_app, record, settle
from tests.browser import Tab
from tests.conftest import FieldClock
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import h
from tests.routing.plans.fixtures import DAY, PlanWorld, at


def test_the_coming_days_open_offline_once_the_list_was_opened(
    client: TestClient,
    keys: Keys,
    world: PlanWorld,
    session: Session,
    live: str,
    browse: Callable[..., Tab],
) -> None:
    # Beta One's visit moves to Tea Tech's next day: two days on the route, only the list
    # of days is opened with a connection.
    replan_by_hand(session, world, {"SB1": ("T1", DAY + timedelta(days=1))})
    base = link_base(client, keys.technician)
    tab = open_app(browse, live, base)
    page = tab.page
    expect(page.locator("li.day")).to_have_count(2)

    tab.context.set_offline(True)
    tomorrow = (DAY + timedelta(days=1)).isoformat()
    page.click(f'li.day a[href="{base}{tomorrow}"]')
    expect(page.locator("h1")).to_contain_text("Fri 4 Dec 2026")
    expect(page.locator("#sync-state")).to_contain_text("Offline")
    expect(page.locator("li.stop")).to_have_count(1)
    expect(page.locator("#not-yet")).to_be_visible()  # its day has not come
    tab.drawn("#day-map")
    page.go_back()
    page.click(f'li.day a[href="{base}{DAY.isoformat()}"]')
    expect(page.locator("#stop-1 button.start")).to_be_visible()
    assert tab.fits_phone()


def test_a_day_kept_the_evening_before_is_worked_offline_in_the_morning(
    client: TestClient,
    keys: Keys,
    world: PlanWorld,
    session: Session,
    live: str,
    browse: Callable[..., Tab],
    field_clock: FieldClock,
) -> None:
    evening = at(7) - timedelta(hours=8)
    field_clock.set(evening)
    base = link_base(client, keys.technician)
    tab = browse(live, phone=True, service_workers=True)
    tab.context.clock.set_fixed_time(evening)
    tab.offsite_allowed = TILES
    tab.goto(f"{base}{DAY.isoformat()}")
    page = tab.page
    expect(page.locator("body")).to_have_attribute("data-offline", "kept", timeout=20_000)
    expect(page.locator("#not-yet")).to_be_visible()
    expect(page.locator("#stop-1 button.start")).to_be_hidden()

    # The morning, no signal: the page kept last evening opens, and takes the work.
    tab.context.set_offline(True)
    tab.context.clock.set_fixed_time(at(7, 30))
    page.reload()
    expect(page.locator("#sync-state")).to_contain_text("Offline")
    expect(page.locator("#not-yet")).to_be_hidden()
    page.click("#stop-1 button.start")
    record(page, 1, "UA1", "fixed", "board swapped")
    expect(page.locator("#sync-state")).to_have_attribute("data-waiting", "2")

    field_clock.set(at(7, 30))
    tab.context.set_offline(False)
    expect(page.locator("#sync-state")).to_have_attribute("data-waiting", "0", timeout=20_000)
    expect(page.locator("#sync-state")).to_have_attribute("data-conflicts", "0")
    settle(page)
    assert outcome_events(session, "UA1") == ["fixed"]
    assert session.get_one(PlanStop, world.stops["SA1"]).status == "started"


def test_work_recorded_under_a_revoked_link_goes_out_from_the_new_one(
    client: TestClient,
    keys: Keys,
    world: PlanWorld,
    session: Session,
    live: str,
    browse: Callable[..., Tab],
) -> None:
    made = client.post("/api/v1/links", headers=h(keys.technician)).json()
    old = made["urls"]["sheets"]
    old = old[old.index("/t/") :] + "/"
    tab = open_app(browse, live, f"{old}{DAY.isoformat()}")
    page = tab.page
    tab.context.set_offline(True)
    page.click("#stop-1 button.start")
    record(page, 1, "UA1", "fixed", "board swapped")
    # Meanwhile the link is revoked (a new phone, a leaked address).
    revoked = client.delete(f"/api/v1/links/{made['id']}", headers=h(keys.technician))
    assert revoked.status_code == 200
    tab.context.set_offline(False)
    banner = page.locator("#conflicts")
    expect(banner).to_contain_text("This link no longer opens", timeout=20_000)
    expect(banner).to_contain_text("Your 2 waiting records stay on this phone")
    expect(page.locator("#sync-state")).to_have_attribute("data-waiting", "2")
    settle(page)
    assert outcome_events(session, "UA1") == [] and count_inbox(session) == 0
    tab.screenshot("field-app-link-gone")
    tab.problems[:] = [p for p in tab.problems if not p.startswith("404 for ")]

    # The technician's new link, opened on the same phone, sends the work.
    new = link_base(client, keys.technician)
    tab.goto(f"{new}{DAY.isoformat()}")
    expect(page.locator("#sync-state")).to_have_attribute("data-waiting", "0", timeout=20_000)
    expect(page.locator("#sync-state")).to_have_attribute("data-conflicts", "0")
    settle(page)
    assert outcome_events(session, "UA1") == ["fixed"]


def count_inbox(session: Session) -> int:
    return int(session.scalar(text("SELECT count(*) FROM inbox_item")) or 0)
