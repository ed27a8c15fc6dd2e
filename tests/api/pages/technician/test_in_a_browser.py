"""The technician's field app in chromium (Playwright, a live server, a 390 x 844 phone),
through its secret link, under the Content-Security-Policy (the tab's guard fails on any
violation, script error or request off the server but the map's tiles):

- the day opened online is kept; offline it opens again, and a stop is started, two
  outcomes recorded and the stop finished; back online the queue drains, the database
  holds one event per outcome, a second sync sends nothing, the partner's notice lists
  the outcomes;
- a re-plan between recording offline and syncing: the outcome on a visit still on the
  technician's route lands on it (a new stop row), the one on a visit moved to another
  technician is shown as a conflict and kept for the lead, never lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from devices.importer import import_csv
from recall.models import OutboxMessage, VisitRequest
from routing.plans.models import PlanStop
from tests.api.pages.technician.fixtures import link_base, outcome_events, replan_by_hand
from tests.api.pages.technician.phone import TILES, open_app, posts, record, settle
from tests.browser import Tab
from tests.conftest import FieldClock
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import h
from tests.routing.plans.fixtures import DAY, PlanWorld, at


def test_offline_a_stop_is_worked_and_synced_once_when_back_online(
    client: TestClient,
    keys: Keys,
    world: PlanWorld,
    session: Session,
    live: str,
    browse: Callable[..., Tab],
) -> None:
    # A unit that entered the recall after the plan: at SA1, but not this visit's work.
    import_csv(
        session,
        "units",
        b"serial,batch_key,site_key,installed_on\nUA9,B1,SA1,2025-09-01\n",
        filename="units.csv",
    )
    session.execute(
        text(
            "INSERT INTO campaign_unit (campaign_id, unit_id, site_id, partner_id, state, added_by)"
            " SELECT v.campaign_id, u.id, v.site_id, v.partner_id, 'notified', 'test'"
            " FROM visit_request v, unit u WHERE v.id = :visit AND u.serial = 'UA9'"
        ),
        {"visit": world.visits["SA1"]},
    )
    session.commit()
    base = link_base(client, keys.technician)
    tab = open_app(browse, live, f"{base}{DAY.isoformat()}")
    page = tab.page
    sent = posts(page)
    # Chromium's own check: the app can be installed (manifest, icons, a service worker)
    cdp = tab.context.new_cdp_session(page)
    # (A Playwright context is incognito, which Chromium reports; it still checks the rest,
    # e.g. a page without a manifest adds no-manifest.)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [e["errorId"] for e in errors] == ["in-incognito"]
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith(f"{base}manifest.webmanifest") and manifest["errors"] == []
    cdp.detach()

    tab.context.set_offline(True)
    page.reload()
    expect(page.locator("h1")).to_contain_text("Tea Tech")
    expect(page.locator("#sync-state")).to_contain_text("Offline")
    assert page.locator("li.stop").count() == 2
    tab.drawn("#day-map")

    page.click("#stop-1 button.start")
    # Big touch targets: every button a gloved hand may need is at least 44 px tall.
    heights = page.locator("#stop-1 button:visible").evaluate_all(
        "buttons => buttons.map(b => b.getBoundingClientRect().height)"
    )
    assert len(heights) == 9 and min(heights) >= 44  # 2 units x 4 outcomes, and finish
    finish = page.locator("#stop-1 button.finish")
    expect(finish).to_be_disabled()
    expect(finish).to_contain_text("2 units to go")
    record(page, 1, "UA1", "fixed", "board swapped", shot=tab)
    record(page, 1, "UA4", "refused", "owner declined")
    ua9 = page.locator('#stop-1 li.unit[data-serial="UA9"]')
    expect(ua9.locator(".state")).to_have_text("to be planned again")
    expect(ua9.locator(".outcomes")).to_be_hidden()
    expect(finish).to_be_enabled()
    finish.click()
    page.click("#confirm-ok")
    expect(page.locator("#sync-state")).to_have_attribute("data-waiting", "4")
    expect(page.locator('#stop-1 li.unit[data-serial="UA1"]')).to_have_class("unit waiting")
    expect(page.locator('#stop-1 li.unit[data-serial="UA1"] .sync-note')).to_contain_text(
        "Waiting to send: fixed"
    )
    tab.screenshot("field-app-offline-waiting")
    # Nothing reached the server while offline, and a reload keeps what was recorded.
    assert sent == [] and outcome_events(session, "UA1") == []
    page.reload()
    expect(page.locator("#sync-state")).to_have_attribute("data-waiting", "4")
    expect(page.locator("#stop-1 .stop-note")).to_contain_text("Finished, waiting to send")

    tab.context.set_offline(False)
    expect(page.locator("#sync-state")).to_have_attribute("data-state", "online", timeout=20_000)
    expect(page.locator("#sync-state")).to_have_attribute("data-waiting", "0")
    expect(page.locator('#stop-1 li.unit[data-serial="UA1"]')).to_have_class("unit done")
    settle(page)
    assert [url.rsplit("/", 1)[-1] for url in sent] == ["start", "outcome", "outcome", "finish"]
    assert all("/visits/" in url for url in sent)

    page.evaluate("window.fieldApp.sync()")
    assert len(sent) == 4  # a second sync sends nothing
    assert outcome_events(session, "UA1") == ["fixed"]
    assert outcome_events(session, "UA4") == ["refused"]
    assert session.get_one(VisitRequest, world.visits["SA1"]).status == "done"
    notice = session.scalars(
        select(OutboxMessage.body).where(OutboxMessage.kind == "visit_done")
    ).one()
    assert "UA1: fixed" in notice and "declined on site (owner declined)" in notice

    page.reload()  # online again: the server's own page shows the stop done
    expect(page.locator("#stop-1")).to_have_attribute("data-status", "finished")
    expect(page.locator('#stop-1 li.unit[data-serial="UA4"] .state')).to_have_text("refused")
    # The unit that was not the visit's work is not shown done.
    expect(ua9).to_have_class("unit")
    expect(ua9.locator(".state")).to_have_text("to be planned again")
    settle(page)
    assert tab.fits_phone()
    tab.screenshot("field-app-synced")


def test_a_replan_between_recording_and_syncing_loses_nothing(
    client: TestClient,
    keys: Keys,
    world: PlanWorld,
    session: Session,
    live: str,
    browse: Callable[..., Tab],
) -> None:
    base = link_base(client, keys.technician)
    tab = open_app(browse, live, f"{base}{DAY.isoformat()}")
    page = tab.page
    tab.context.set_offline(True)
    page.click("#stop-1 button.start")
    record(page, 1, "UA1", "fixed", "board swapped")
    page.click("#stop-2 button.start")
    record(page, 2, "UB1", "fixed", "done before the re-plan")
    expect(page.locator("#sync-state")).to_have_attribute("data-waiting", "4")

    # Meanwhile the lead re-plans: SB1's visit goes to Toni Tech (T2); SA1 stays with T1
    # but gets a new stop row in the new version.
    replan_by_hand(session, world, {"SB1": ("T2", DAY)})
    tab.context.set_offline(False)
    expect(page.locator("#sync-state")).to_have_attribute("data-waiting", "0", timeout=20_000)
    expect(page.locator("#sync-state")).to_have_attribute("data-conflicts", "2")
    settle(page)

    # SA1: landed on its visit, through the new version's stop.
    assert outcome_events(session, "UA1") == ["fixed"]
    new_stop = session.scalars(
        select(PlanStop).where(
            PlanStop.visit_request_id == world.visits["SA1"], PlanStop.id != world.stops["SA1"]
        )
    ).one()
    assert new_stop.status == "started"
    # SB1: not applied, said plainly on the phone, kept for the lead.
    assert outcome_events(session, "UB1") == []
    unit = page.locator('#stop-2 li.unit[data-serial="UB1"]')
    expect(unit).to_have_class("unit conflict")
    expect(unit.locator(".sync-note")).to_contain_text(
        "no longer on your route: it is now Toni Tech's"
    )
    expect(unit.locator(".sync-note")).to_contain_text("kept for the support lead")
    expect(page.locator("#conflicts")).to_be_visible()
    tab.screenshot("field-app-conflict")
    assert tab.fits_phone()
    inbox = client.get("/api/v1/inbox?kind=field_conflict", headers=h(keys.lead)).json()
    kept = {(i["serial"], i["data"]["recorded"]["kind"]) for i in inbox["items"]}
    assert kept == {(None, "start"), ("UB1", "outcome")}
    outcome = next(i for i in inbox["items"] if i["serial"] == "UB1")
    assert outcome["visit_id"] == world.visits["SB1"] and outcome["partner_key"] == "PB"
    assert outcome["data"]["recorded"]["outcome"] == "fixed"
    assert outcome["data"]["recorded"]["note"] == "done before the re-plan"
    assert "Tea Tech (T1)" in outcome["summary"]
    # A second sync sends nothing again, and the conflicts stay on the phone.
    sent = posts(page)
    page.evaluate("window.fieldApp.sync()")
    assert sent == []
    assert page.evaluate("window.fieldApp.items().then(i => i.length)") == 4
    # Problems the tab saw: the two 409 answers, expected here.
    conflicts = [p for p in tab.problems if p.startswith("409 for ")]
    assert len(conflicts) == 2
    tab.problems[:] = [p for p in tab.problems if p not in conflicts]


def test_every_page_fits_a_phone(
    client: TestClient,
    keys: Keys,
    world: PlanWorld,
    live: str,
    browse: Callable[..., Tab],
    field_clock: FieldClock,
) -> None:
    base = link_base(client, keys.technician)
    status = client.post("/api/v1/links", headers=h(keys.partner_b)).json()["urls"]["status"]
    tab = browse(live, phone=True)
    tab.offsite_allowed = TILES
    page = tab.page

    tab.goto(base)
    expect(page.locator("li.day.today")).to_contain_text("Thu 3 Dec 2026")
    assert tab.fits_phone()
    tab.screenshot("field-app-days")

    evening = at(7) - timedelta(hours=8)  # the evening before: the day is coming
    field_clock.set(evening)
    tab.context.clock.set_fixed_time(evening)
    tab.goto(f"{base}{DAY.isoformat()}")
    tab.drawn("#day-map")
    expect(page.locator("#not-yet")).to_be_visible()
    assert page.locator("button:visible").count() == 0
    # The stops in order, each ETA the stored arrival.
    stops = page.locator("li.stop").evaluate_all(
        "stops => stops.map(s => [Number(s.dataset.stopId),"
        " s.querySelector('time').getAttribute('datetime')])"
    )
    assert [sid for sid, _ in stops] == [world.stops["SA1"], world.stops["SB1"]]
    assert [datetime.fromisoformat(t) for _, t in stops] == [at(8, 20), at(9, 40)]
    assert page.locator("li.stop").first.evaluate("s => getComputedStyle(s).borderStyle") == "solid"
    assert tab.fits_phone()
    tab.screenshot("field-app-coming-day")

    # The read-only sheet the API serves (a support lead's key on every request).
    tab.context.set_extra_http_headers(h(keys.lead))
    tab.goto(f"/api/v1/routes/{world.route_id}/sheet?format=html")
    tab.drawn("#day-map")
    assert page.locator("button").count() == 0 and page.locator("#field-app").count() == 0
    assert tab.fits_phone()
    tab.screenshot("technician-sheet-phone")

    # A wrong address behind the link is a page for a person, on a phone too.
    gone = tab.goto(f"{base}no/such/page")
    assert gone.status == 404
    expect(page.locator("h1")).to_have_text("Nothing here")
    assert tab.fits_phone()
    tab.screenshot("field-app-wrong-address")
    tab.problems[:] = [p for p in tab.problems if "404" not in p]

    tab.goto(status[status.index("/p/") :])
    assert page.locator('tr.visit[data-site="SB1"]').count() == 1
    assert "UB1: scheduled" in page.inner_text("body")
    assert tab.fits_phone()
    tab.screenshot("partner-status-phone")
