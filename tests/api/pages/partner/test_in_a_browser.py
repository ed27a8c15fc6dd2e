"""Issue 12's acceptance, in chromium on a 390 px phone, on committed data with a real
worker delivering the notices to a real SMTP server: the partner opens the link from a
delivered notice, confirms one visit, takes an offered slot for another (a new published
plan version in which only that visit moved, the validator passing; the technician's
sheet for the new day shows it; a second tap changes nothing), reports a failure and
sees it acknowledged (the technician's sheet shows it too), then resolved with the
lead's note. No page scrolls sideways; each step leaves a screenshot under
var/screenshots/portal-*.png."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.links import new_link
from core.settings import Settings
from recall.models import OutboxMessage, VisitRequest
from routing.plans import service as plans
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from routing.plans.slots import published_violations
from tests.api.pages.partner.world import CommittedWorld, committed_world
from tests.browser import Tab
from tests.recall.notify.harness import (
    FAST_RETRIES,
    SmtpSink,
    smtp_server,
    start_worker,
    wait_for,
)


def portal_link_in_mail(sink: SmtpSink, to: str, base: str) -> str | None:
    """The portal address in the newest delivered notice to ``to`` (its path)."""
    for envelope in reversed(sink.envelopes):
        if to not in envelope.rcpt_tos:
            continue
        mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        found = re.search(re.escape(base) + r"(/p/[A-Za-z0-9_-]+/)", body)
        if found:
            return found[1]
    return None


def stops_of(session: Session, plan_id: int) -> dict[int, tuple[int, object, object]]:
    rows = session.execute(
        select(PlanStop, PlanRoute.technician_id, PlanRoute.day)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .where(PlanStop.plan_id == plan_id)
    ).all()
    return {s.visit_request_id: (t, d, s.window_start) for s, t, d in rows}


def test_the_partner_confirms_books_a_slot_and_reports_a_failure_on_a_phone(
    live_committed: str, committed: Engine, browse: Callable[..., Tab], tmp_path: Path
) -> None:
    world: CommittedWorld = committed_world(committed)
    log = tmp_path / "worker.log"
    with smtp_server() as (sink, port):
        worker = start_worker(
            committed,
            log,
            {**FAST_RETRIES, "smtp_port": str(port), "public_base_url": live_committed},
        )
        try:
            run(world, live_committed, committed, browse, sink, log)
        finally:
            worker.stop()


def run(
    world: CommittedWorld,
    base: str,
    engine: Engine,
    browse: Callable[..., Tab],
    sink: SmtpSink,
    log: Path,
) -> None:
    sa1, sa2 = world.visits["SA1"], world.visits["SA2"]
    # 1. The link from a delivered notice.
    link = wait_for(
        "a delivered notice with the portal link",
        lambda: portal_link_in_mail(sink, "ops@alpha.example", base),
        log=log,
    )
    tab = browse(base, phone=True)
    page = tab.page
    tab.goto(link)
    assert page.locator("article.site").count() == 3
    assert tab.fits_phone()
    tab.screenshot("portal-home-phone")

    # 2. Confirm SA1 with one tap.
    page.click(f"#visit-{sa1} button.confirm")
    page.wait_for_selector("#done")
    assert page.get_attribute(f"#visit-{sa1}", "data-state") == "confirmed"
    with Session(engine) as session:
        assert session.get_one(VisitRequest, sa1).partner_confirmed_at is not None
    assert tab.fits_phone()
    tab.screenshot("portal-confirmed-phone")

    # 3. Another slot for SA2: the offers fit the published plan; tap the last one.
    with Session(engine) as session:
        before = plans.published_plan(session, world.campaign_id)
        assert before is not None
        before_id = before.id
        old_stops = stops_of(session, before_id)
        versions = session.scalar(select(func.count()).select_from(FieldPlan))
    page.click(f"#visit-{sa2} a.change")
    page.wait_for_selector("button.slot")
    assert 1 <= page.locator("button.slot").count() <= 5
    assert tab.fits_phone()
    tab.screenshot("portal-slots-phone")
    chosen = page.locator("ul.slots form").last
    fields = {
        name: chosen.locator(f'input[name="{name}"]').get_attribute("value")
        for name in ("day", "window_start")
    }
    chosen.locator("button.slot").click()
    page.wait_for_selector("#done")
    assert "Your slot is booked" in page.inner_text("#done")
    with Session(engine) as session:
        after = plans.published_plan(session, world.campaign_id)
        assert after is not None and after.id != before_id
        assert (after.based_on_plan_id, after.parameters["kind"]) == (before_id, "slot_booked")
        after_id = after.id
        assert session.scalar(select(func.count()).select_from(FieldPlan)) == versions + 1
        assert after.stats is not None and after.stats["validator"]["ok"] is True
        assert (
            published_violations(session, campaign_id=world.campaign_id, settings=Settings()) == []
        )
        new_stops = stops_of(session, after.id)
        moved = {v for v in old_stops if new_stops.get(v) != old_stops[v]}
        assert moved == {sa2}  # only that visit moved
        technician_id, day, window = new_stops[sa2]
        assert (str(day), window.isoformat()) == (fields["day"], fields["window_start"])  # type: ignore[union-attr]
        sheet_token = new_link(session, technician_id=technician_id).token
        session.commit()
    # The technician's sheet for the new day shows the visit (its day map tries the default
    # tile host, whose requests the test's guard aborts).
    tab.offsite_allowed = "https://tile.openstreetmap.org/"
    tab.goto(f"/t/{sheet_token}/{day}.html")
    assert "Alpha South" in page.inner_text("body") and "UA3" in page.inner_text("body")
    tab.screenshot("portal-technician-sheet-new-day")
    # A second tap on the same slot changes nothing.
    again = page.request.post(
        f"{base}{link}visits/{sa2}/slots",
        form=fields,
        max_redirects=0,  # type: ignore[arg-type]
    )
    assert again.status == 303
    with Session(engine) as session:
        latest = plans.published_plan(session, world.campaign_id)
        assert latest is not None and latest.id == after_id
        assert session.scalar(select(func.count()).select_from(FieldPlan)) == versions + 1

    # 4. Report a failure on UA1 (under the recall): acknowledged by notice, then resolved.
    tab.goto(link + "reports/new")
    page.select_option("#serial", "UA1")
    page.fill("#symptom", "Display dark after the frost")
    assert tab.fits_phone()
    tab.screenshot("portal-report-form-phone")
    key = page.get_attribute('input[name="report_key"]', "value")
    page.click("form.report-form button[type=submit]")
    page.wait_for_selector("#sent")
    report = f"#report-{key}"
    assert page.get_attribute(report, "data-status") == "linked_to_recall"

    def acknowledged() -> bool:
        tab.goto(link + "reports")
        return page.get_attribute(report, "data-acknowledged") == "yes"

    wait_for("the acknowledgement delivered", acknowledged, log=log)
    steps = page.locator(f"{report} [data-step]").evaluate_all(
        "items => items.map(i => i.dataset.step)"
    )
    assert steps == ["reported", "linked_to_recall", "acknowledged"]
    assert tab.fits_phone()
    tab.screenshot("portal-report-acknowledged-phone")
    # The technician's sheet for UA1's visit shows the report.
    with Session(engine) as session:
        ua1_technician, ua1_day, _ = stops_of(session, after_id)[sa1]
        ua1_sheet = new_link(session, technician_id=ua1_technician).token
        session.commit()
    tab.goto(f"/t/{ua1_sheet}/{ua1_day}.html")
    assert "Display dark after the frost" in page.inner_text(f'[data-report="{key}"]')
    resolved = httpx.post(
        f"{base}/api/v1/failures/{key}/status",
        json={"status": "resolved", "note": "Display board replaced; tested at -20 C."},
        headers={"X-API-Key": world.keys.lead},
    )
    assert resolved.status_code == 204, resolved.text
    tab.goto(link + "reports")
    assert page.get_attribute(report, "data-status") == "resolved"
    assert "Display board replaced; tested at -20 C." in page.inner_text(report)
    assert tab.fits_phone()
    tab.screenshot("portal-report-resolved-phone")
    with Session(engine) as session:
        told = session.scalars(
            select(OutboxMessage.kind).where(
                OutboxMessage.partner_key == "PA", OutboxMessage.data["report_key"].astext == key
            )
        ).all()
    assert set(told) == {"failure_linked", "failure_resolved"}
