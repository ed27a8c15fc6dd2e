"""The console's sections in chromium, on the small recall registry (the app on the
test's own transaction): declaring by hand with a region drawn on the map, where a
double click declares once; acting on a signal; failure reports filtered and resolved;
a dead letter retried; a partner reminded; a plan's map, timeline, sheet and publishing;
an absence and a closure recorded; the ledger per state and partner, the 24-hour promise
(at risk, kept, broken), the follow-up list with contacts, the units awaiting a revisit;
the lead's decisions on refused units, the inbox read and unread, closing a complete
recall. After each step the test reads the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.events import Event
from devices.models import FailureReport, Unit
from recall.campaigns import ledger
from recall.campaigns import service as campaigns
from recall.campaigns.schemas import LedgerOut
from recall.inbox.models import InboxItem
from recall.models import Campaign, CampaignUnit, OutboxMessage, Signal, VisitRequest
from routing.plans.models import FieldPlan, SiteClosure, TechnicianAbsence
from tests.api.pages.console.world import World, make_world
from tests.browser import Tab
from tests.recall.campaigns.fixtures import load_recall_registry, walk


def signed_in(browse: Callable[..., Tab], base: str, key: str) -> Tab:
    tab = browse(base)
    tab.offsite_allowed = "https://tile.openstreetmap.org/"  # tiles are tried, and aborted
    tab.goto("/console/login")
    tab.page.fill("#api_key", key)
    tab.page.click("button[type=submit]")
    tab.page.wait_for_url(base + "/console/")
    return tab


def count(session: Session, what: object) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(what)) or 0  # type: ignore[arg-type]


def test_declare_by_hand_with_a_drawn_region_once_however_often_clicked(
    live: str, session: Session, browse: Callable[..., Tab]
) -> None:
    keys = load_recall_registry(session)
    tab = signed_in(browse, live, keys.lead)
    page = tab.page
    tab.goto("/console/campaigns/new")
    page.fill("#title", "OU-200 cold boot, Oulu")
    page.fill("#remedy", "Replace the power board")
    page.fill("#batch_keys", "B1")
    tab.drawn("#scope-map")
    # Orange dots: the sites with a failure, SA1 and SB1 near Oulu; draw a box around them.
    dots = page.locator("#scope-map path.leaflet-interactive[fill='#D55E00']")
    expect(dots).to_have_count(2)
    boxes = [dots.nth(i).bounding_box() for i in range(2)]
    assert all(boxes)
    left = min(b["x"] for b in boxes if b) - 30
    right = max(b["x"] + b["width"] for b in boxes if b) + 30
    top = min(b["y"] for b in boxes if b) - 30
    bottom = max(b["y"] + b["height"] for b in boxes if b) + 30
    for x, y in ((left, top), (right, top), (right, bottom), (left, bottom)):
        page.mouse.click(x, y)
    expect(page.locator("#scope-map")).to_have_attribute("data-region", "drawing")
    page.click("[data-draw-finish='scope-map']")
    expect(page.locator("#scope-map")).to_have_attribute("data-region", "closed")
    assert '"type":"Polygon"' in (page.input_value("#region") or "")

    page.click("#dry-run")
    expect(page.locator("#dry-units")).to_have_text("3")  # UA1, UA4 at SA1; UB1 at SB1
    rows = page.locator("#dry-partner-counts tbody tr")
    assert rows.all_inner_texts() == ["Alpha Oy (PA)\t1\t2\t0.9", "Beta AB (PB)\t1\t1\t0.6"]
    tab.drawn("#scope-map")
    expect(page.locator("#scope-map path.leaflet-interactive")).to_have_count(2)
    expect(page.locator("#scope-map")).to_have_attribute("data-region", "closed")
    assert count(session, Campaign) == 0  # a dry run writes nothing

    page.dblclick("#declare")
    page.wait_for_url(f"{live}/console/campaigns/*")
    tab.drawn("#burn-down")
    expect(page.locator("#units-total")).to_have_text("3")
    session.expire_all()
    [campaign] = session.scalars(select(Campaign)).all()
    assert campaign.region is not None and campaign.idempotency_key.startswith("console:")
    assert page.url == f"{live}/console/campaigns/{campaign.id}"
    units = select(CampaignUnit).where(CampaignUnit.campaign_id == campaign.id).subquery()
    assert count(session, units) == 3
    # Declaring told both partners once each, and acknowledged their linked reports.
    declared = select(OutboxMessage).where(OutboxMessage.kind == "recall_declared").subquery()
    assert count(session, declared) == 2


def test_a_signal_a_failure_report_a_dead_letter_and_a_reminder(
    live: str, session: Session, browse: Callable[..., Tab]
) -> None:
    world: World = make_world(session)
    tab = signed_in(browse, live, world.keys.lead)
    page = tab.page

    # The open signal on B2: acknowledged, with a reason.
    tab.goto("/console/signals?status=new")
    expect(page.locator("#signals tbody tr")).to_have_count(1)
    page.click(f"#signal-{world.open_signal} a")
    page.fill("#reason", "checking with the factory")
    page.click("#move-acknowledged")
    expect(page.locator("#signal-status")).to_have_text("acknowledged")
    signal = session.get_one(Signal, world.open_signal)
    session.refresh(signal)
    assert (signal.status, signal.status_reason) == ("acknowledged", "checking with the factory")

    # Failure reports: both were linked to the recall when it was declared.
    tab.goto("/console/failures")
    expect(page.locator("#failure-counts a[data-count^='linked_to_recall:']")).to_have_count(1)
    page.select_option("#f-status", "linked_to_recall")
    page.fill("#f-partner", "PA")
    page.click("#failure-filters button[type=submit]")
    expect(page.locator("#failures tbody tr")).to_have_count(1)
    row = page.locator("#report-RA1")
    row.locator("summary").click()
    row.locator("textarea").fill("Board replaced under recall; the unit boots at -30 C.")
    row.locator("button:has-text('Resolve')").click()
    # Back on the same filtered list, where RA1 no longer is; it is under "resolved".
    expect(page.locator("#report-RA1")).to_have_count(0)
    assert "status=linked_to_recall" in page.url and "partner=PA" in page.url
    page.click("#failure-counts a[data-count^='resolved:']")
    expect(page.locator("#report-RA1 .badge")).to_have_text("resolved")
    expect(page.locator("#report-RA1 .note")).to_have_text(
        "Board replaced under recall; the unit boots at -30 C."
    )
    report = session.scalars(select(FailureReport).where(FailureReport.report_key == "RA1")).one()
    session.refresh(report)
    assert report.status == "resolved"
    assert report.resolution_note == "Board replaced under recall; the unit boots at -30 C."
    told = select(OutboxMessage).where(OutboxMessage.kind == "failure_resolved").subquery()
    assert count(session, told) == 1

    # The dead letter: retried.
    tab.goto("/console/outbox")
    page.click("#tab-dead")
    expect(page.locator("#outbox tbody tr[id^=message-]")).to_have_count(1)
    expect(page.locator(f"#message-{world.message} .error-text")).to_have_text(
        "550 mailbox unavailable"
    )
    page.click(f"#message-{world.message} button:has-text('Retry')")
    expect(page.locator("#outbox tbody tr[id^=message-]")).to_have_count(0)
    # The declaration's notices to PA, the links of RA1 and RB1, RA1's resolution, and
    # the retried one.
    expect(page.locator("#tab-pending .count")).to_have_text("5")
    message = session.get_one(OutboxMessage, world.message)
    session.refresh(message)
    assert (message.status, message.attempts) == ("pending", 0)
    retried = select(Event).where(Event.entity == "outbox_message", Event.action == "retry")
    assert count(session, retried.subquery()) == 1

    # A reminder to partner PA.
    tab.goto(f"/console/campaigns/{world.campaign}")
    tab.drawn("#burn-down")
    page.click("#partner-PA [data-remind='PA']")
    expect(page.locator("#reminded")).to_contain_text("PA")
    reminders = select(OutboxMessage).where(
        OutboxMessage.kind == "recall_reminder", OutboxMessage.partner_key == "PA"
    )
    assert count(session, reminders.subquery()) == 1


def test_a_plan_on_the_map_and_the_timeline_its_sheet_publishing_and_days_off(
    live: str, session: Session, browse: Callable[..., Tab]
) -> None:
    world = make_world(session)
    tab = signed_in(browse, live, world.keys.lead)
    page = tab.page
    tab.goto(f"/console/campaigns/{world.campaign}/plans/{world.plan}")
    tab.drawn("#plan-map")
    tab.drawn("#plan-timeline")
    # T1's day: one line home -> SA1 -> SB1 -> home, stops numbered 1 and 2, a home dot.
    expect(page.locator("#plan-map .fr-marker-label")).to_have_text(["1", "2"])
    paths = page.locator("#plan-map path.leaflet-interactive").evaluate_all(
        "paths => paths.map(p => [p.getAttribute('stroke'), p.getAttribute('fill')])"
    )
    # The route's line in T1's colour, and T1's home: a dot of that colour, white outline.
    assert paths == [["#0072B2", "none"], ["#ffffff", "#0072B2"]]
    # The timeline: drive + on site for each stop, the drive home, the lunch break.
    bars = page.locator("#plan-timeline svg .mark-rect path")
    expect(bars).to_have_count(6)
    expect(page.locator("#plan-progress")).to_have_attribute("data-status", "done")

    page.click("a[data-sheet='T1']")
    expect(page.locator("#sheet-stops tbody tr")).to_have_count(2)
    expect(page.locator("#stop-1")).to_contain_text("Alpha North")
    page.go_back()

    page.click("#publish")
    expect(page.locator("#published")).to_contain_text("Published")
    plan = session.get_one(FieldPlan, world.plan)
    session.refresh(plan)
    assert plan.status == "published"
    scheduled = select(VisitRequest).where(VisitRequest.status == "scheduled").subquery()
    assert count(session, scheduled) == 2

    page.select_option("#absence-technician", "T1")
    page.fill("#absence-from", "2026-12-04")
    page.fill("#absence-reason", "flu")
    page.click("#absence-form button[type=submit]")
    expect(page.locator("#days-off")).to_contain_text("technician T1 absent (flu)")
    page.select_option("#closure-site", "SB1")
    page.fill("#closure-from", "2026-12-03")
    page.click("#closure-form button[type=submit]")
    expect(page.locator("#days-off")).to_contain_text("site SB1 closed")
    assert count(session, TechnicianAbsence) == 1 and count(session, SiteClosure) == 1


def test_decisions_on_refused_units_the_inbox_and_closing_the_recall(
    live: str, session: Session, browse: Callable[..., Tab]
) -> None:
    world = make_world(session)
    campaign = session.get_one(Campaign, world.campaign)
    # The fix was refused on site for UA3 (SA2) and UA5 (SA3).
    for serial in ("UA3", "UA5"):
        walk(session, world.campaign, serial, "notified", "scheduled", "in_progress", "refused")
    session.commit()
    tab = signed_in(browse, live, world.keys.lead)
    page = tab.page
    tab.goto(f"/console/campaigns/{world.campaign}")
    expect(page.locator("#decisions-pending")).to_have_text("2")
    expect(page.locator("#decisions tbody tr[id^=decide-]")).to_have_count(2)
    expect(page.locator("#follow-up tr[data-reason=decision_pending]")).to_have_count(1)

    # UA3 gets another visit; UA5 is waived with the reason.
    page.click("#decide-UA3 button:has-text('Revisit')")
    expect(page.locator("#decisions tbody tr[id^=decide-]")).to_have_count(1)
    page.fill("#waive-UA5", "the partner replaced it")
    page.click("#decide-UA5 button:has-text('Waive')")
    expect(page.locator("#decisions tbody tr[id^=decide-]")).to_have_count(0)
    states = dict(
        session.execute(
            select(Unit.serial, CampaignUnit.state)
            .join(CampaignUnit, CampaignUnit.unit_id == Unit.id)
            .where(Unit.serial.in_(["UA3", "UA5"]))
            .execution_options(populate_existing=True)
        ).all()
    )
    assert states == {"UA3": "notified", "UA5": "waived"}
    waived = select(Event).where(
        Event.to_state == "waived", Event.reason == "the partner replaced it"
    )
    assert count(session, waived.subquery()) == 1

    # The inbox: PA's confirmation, unread, then read.
    expect(page.locator(f"#inbox-{world.inbox_item}")).to_have_class("unread")
    expect(page.locator(f"#inbox-{world.inbox_item}")).to_contain_text("confirmed a visit")
    page.click(f"#inbox-{world.inbox_item} button:has-text('Mark read')")
    expect(page.locator(f"#inbox-{world.inbox_item}")).to_have_class("read")
    item = session.get_one(InboxItem, world.inbox_item)
    session.refresh(item)
    assert item.read_at is not None and item.read_by is not None
    page.click("#inbox-unread")
    expect(page.locator(f"#inbox-{world.inbox_item}")).to_have_count(0)

    # Every unit fixed or waived: the recall can be closed, and is.
    expect(page.locator("#close-form")).to_have_count(0)
    for serial in ("UA1", "UA3", "UA4", "UB1"):
        campaigns.change_unit_state(
            session,
            campaign_id=world.campaign,
            serial=serial,
            to_state="waived",
            reason="decommissioned",
            actor="test",
        )
    session.commit()
    tab.goto(f"/console/campaigns/{world.campaign}")
    page.fill("#close-note", "all units replaced")
    page.click("#close-form button[type=submit]")
    expect(page.locator("#campaign-status")).to_have_text("closed")
    session.refresh(campaign)
    assert (campaign.status, campaign.close_note) == ("closed", "all units replaced")


def test_the_ledger_the_24_hour_promise_the_follow_up_and_the_revisits(
    live: str, session: Session, browse: Callable[..., Tab]
) -> None:
    world = make_world(session)
    tab = signed_in(browse, live, world.keys.lead)
    page = tab.page
    here = f"/console/campaigns/{world.campaign}"

    def shown() -> LedgerOut:  # what the page must show: the ledger read from the database
        session.expire_all()
        return ledger.campaign_ledger(session, campaign_id=world.campaign, partner_id=None)

    # Just declared, nobody told yet: the promise is at risk for both partners.
    tab.goto(here)
    book = shown()
    assert (book.units.total, book.promise_at_risk) == (5, ["PA", "PB"])
    expect(page.locator("#units-total")).to_have_text("5")
    expect(page.locator("#ledger-partners #partner-PA td").nth(1)).to_have_text("4")
    expect(page.locator("#ledger-partners #partner-PB td").nth(1)).to_have_text("1")
    expect(page.locator("#promise-at-risk")).to_contain_text("PA, PB")
    expect(page.locator("#promise-kept, #promise-broken")).to_have_count(0)

    # UA4 was not accessible at its visit: it waits for a revisit.
    walk(session, world.campaign, "UA4", "notified", "scheduled", "in_progress", "unable_to_access")
    # Declared two days ago; PA's notices were delivered within the hour, PB's never.
    campaign = session.get_one(Campaign, world.campaign)
    campaign.declared_at = datetime.now(UTC) - timedelta(days=2)
    for message in session.scalars(select(OutboxMessage).where(OutboxMessage.partner_key == "PA")):
        message.status = "delivered"
        message.delivered_at = campaign.declared_at + timedelta(hours=1)
    session.commit()
    tab.goto(here)
    book = shown()
    assert (book.not_notified_within_24h, book.promise_at_risk) == (["PB"], [])
    expect(page.locator("#ledger-states td[data-unit-state=unable_to_access]")).to_have_text("1")
    expect(page.locator("#revisits tbody tr")).to_have_count(1)
    expect(page.locator("#revisits tbody tr")).to_contain_text("UA4")
    expect(page.locator("#partner-PA td").nth(7)).to_have_text("kept")
    expect(page.locator("#partner-PB td").nth(7)).to_have_text("broken")
    expect(page.locator("#promise-broken")).to_contain_text("PB")
    expect(page.locator("#promise-at-risk")).to_have_count(0)

    # Follow-up: three days after the declaration (the default) PB is not yet overdue;
    # asked for one day, PB is listed as not reached, with its contact to call.
    not_reached = page.locator("#follow-up tr[data-partner=PB][data-reason=not_reached]")
    expect(not_reached).to_have_count(0)
    page.fill("#follow_up_days", "1")
    page.click("#follow-up-form button[type=submit]")
    expect(not_reached).to_have_count(1)
    expect(not_reached.locator("a[href='mailto:ops@beta.example']")).to_have_count(1)
    expect(page.locator("#follow-up tr[data-partner=PA][data-reason=not_reached]")).to_have_count(0)
    # Every reason the ledger gives, one row each, and nothing else.
    followed = ledger.campaign_ledger(
        session, campaign_id=world.campaign, partner_id=None, follow_up_days=1
    ).follow_up
    assert ("PB", "not_reached") in [(f.partner_key, f.reason) for f in followed]
    rows = page.locator("#follow-up tbody tr[data-partner]").evaluate_all(
        "rows => rows.map(r => [r.dataset.partner, r.dataset.reason])"
    )
    assert rows == [[f.partner_key, f.reason] for f in followed]


def test_every_console_page_fits_a_phone_and_draws_its_widgets(
    live: str, session: Session, browse: Callable[..., Tab]
) -> None:
    world = make_world(session)
    tab = browse(live, phone=True)
    tab.offsite_allowed = "https://tile.openstreetmap.org/"
    page = tab.page
    tab.goto("/console/login")
    page.fill("#api_key", world.keys.lead)
    page.click("button[type=submit]")
    page.wait_for_url(live + "/console/")
    for path in (
        "/console/signals",
        f"/console/signals/{world.signal}",
        "/console/campaigns",
        f"/console/campaigns/new?signal={world.open_signal}",
        f"/console/campaigns/{world.campaign}",
        f"/console/campaigns/{world.campaign}/plans/{world.plan}",
        f"/console/routes/{world.route}",
        "/console/failures",
        "/console/inbox",
        "/console/outbox",
    ):
        tab.goto(path)
        for widget in page.locator("[data-vega-lite], [data-geojson]").all():
            tab.drawn(f"#{widget.get_attribute('id')}")
        assert tab.fits_phone(), path
