"""The technician's phone page and the partner's status page, rendered by headless
Chromium from a live server, opened through their secret links."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing.plans.models import PlanStop
from tests.browser import browse, live_server
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import DAY, publish_by_hand
from tests.routing.sheets.test_sheets import _Stops


def test_the_phone_page_and_the_partner_page_render_in_chromium(
    client: TestClient, session: Session, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    keys = load_recall_registry(session)
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    world = publish_by_hand(session, campaign["id"])
    sheets = client.post("/api/v1/links", headers=h(keys.technician)).json()["urls"]["sheets"]
    status = client.post("/api/v1/links", headers=h(keys.partner_b)).json()["urls"]["status"]
    stops = session.scalars(
        select(PlanStop).where(PlanStop.route_id == world.route_id).order_by(PlanStop.seq)
    ).all()

    with live_server(sessions) as base:
        shot = tmp_path / "sheet.png"
        sheet_path = sheets[sheets.index("/t/") :] + f"/{DAY.isoformat()}.html"
        dom = browse(base + sheet_path, tmp_path / "profile", screenshot=shot)
        partner_dom = browse(base + status[status.index("/p/") :], tmp_path / "profile")

    page = _Stops()
    page.feed(dom)
    assert [sid for sid, _ in page.stops] == [s.id for s in stops]
    assert [datetime.fromisoformat(t) for _, t in page.stops] == [s.arrival for s in stops]
    assert "ETA" in dom and "08:20" in dom and "UA4" in dom
    assert shot.stat().st_size > 5_000  # a real rendering, not an error page
    assert 'data-site="SB1"' in partner_dom and "UB1: scheduled" in partner_dom
    assert "SA1" not in partner_dom
