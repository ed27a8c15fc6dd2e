"""The technician's phone page and the partner's status page, rendered by chromium
(Playwright) from a live server, opened through their secret links, on a phone-sized
screen, under the Content-Security-Policy (the tab's guard fails on any violation)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.plans.models import PlanStop
from tests.browser import Tab
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import DAY, publish_by_hand


def test_the_phone_page_and_the_partner_page_render_in_chromium(
    client: TestClient, session: Session, live: str, browse: Callable[..., Tab]
) -> None:
    keys = load_recall_registry(session)
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    world = publish_by_hand(session, campaign["id"])
    sheets = client.post("/api/v1/links", headers=h(keys.technician)).json()["urls"]["sheets"]
    status = client.post("/api/v1/links", headers=h(keys.partner_b)).json()["urls"]["status"]
    stops = session.scalars(
        select(PlanStop).where(PlanStop.route_id == world.route_id).order_by(PlanStop.seq)
    ).all()

    tab = browse(live, phone=True)
    tab.goto(sheets[sheets.index("/t/") :] + f"/{DAY.isoformat()}.html")
    page = tab.page
    shown = page.locator("li.stop").evaluate_all(
        "stops => stops.map(s => [Number(s.dataset.stopId),"
        " s.querySelector('time').getAttribute('datetime')])"
    )
    assert [sid for sid, _ in shown] == [s.id for s in stops]
    assert [datetime.fromisoformat(t) for _, t in shown] == [s.arrival for s in stops]
    text = page.inner_text("body")
    assert "ETA" in text and "08:20" in text and "UA4" in text
    # The stylesheet applies (served from /static under the policy): stops are boxed.
    assert page.locator("li.stop").first.evaluate("s => getComputedStyle(s).borderStyle") == "solid"
    assert tab.fits_phone()
    tab.screenshot("technician-sheet-phone")

    tab.goto(status[status.index("/p/") :])
    assert page.locator('tr.visit[data-site="SB1"]').count() == 1
    assert "UB1: scheduled" in page.inner_text("body")
    assert page.locator('[data-site="SA1"]').count() == 0
    tab.screenshot("partner-status-phone")
