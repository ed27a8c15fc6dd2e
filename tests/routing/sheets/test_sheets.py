"""Route sheets agree with the stored plan in every format; technicians see only their own
published routes; secret links open sheets and partner pages without a key."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import gpxpy
import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.plans.models import PlanStop
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import DAY, PlanWorld, publish_by_hand


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


@pytest.fixture
def world(client: TestClient, keys: Keys, session: Session) -> PlanWorld:
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    return publish_by_hand(session, campaign["id"])


def stored_stops(session: Session, route_id: int) -> list[PlanStop]:
    return list(
        session.scalars(
            select(PlanStop).where(PlanStop.route_id == route_id).order_by(PlanStop.seq)
        )
    )


def sheet(client: TestClient, key: str, route_id: int, fmt: str) -> bytes:
    response = client.get(f"/api/v1/routes/{route_id}/sheet?format={fmt}", headers=h(key))
    assert response.status_code == 200, response.text
    return response.content


class _Stops(HTMLParser):
    """Reads the phone page: each stop's id and ETA, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.stops: list[tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "li" and a.get("data-stop-id"):
            self.stops.append((int(a["data-stop-id"] or 0), ""))
        if tag == "time" and self.stops:
            self.stops[-1] = (self.stops[-1][0], a.get("datetime") or "")


def assert_every_format_agrees_with_the_stored_plan(
    client: TestClient, key: str, route_id: int, session: Session
) -> dict:
    """Same stops, order and times in JSON, HTML, PDF, iCalendar, GPX and GeoJSON as in
    plan_stop; returns the JSON sheet."""
    stops = stored_stops(session, route_id)
    ids = [s.id for s in stops]
    arrivals = [s.arrival for s in stops]
    starts = [(s.service_start, s.service_end) for s in stops]

    body = json.loads(sheet(client, key, route_id, "json"))
    assert [s["stop_id"] for s in body["stops"]] == ids
    assert [datetime.fromisoformat(s["eta"]) for s in body["stops"]] == arrivals
    assert [
        (datetime.fromisoformat(s["service_start"]), datetime.fromisoformat(s["service_end"]))
        for s in body["stops"]
    ] == starts

    page = _Stops()
    page.feed(sheet(client, key, route_id, "html").decode())
    assert [sid for sid, _ in page.stops] == ids
    assert [datetime.fromisoformat(t) for _, t in page.stops] == arrivals

    pdf = PdfReader(io.BytesIO(sheet(client, key, route_id, "pdf")))
    text = "".join(p.extract_text() for p in pdf.pages)
    zone = ZoneInfo(body["timezone"])
    etas = [(str(s.seq), s.arrival.astimezone(zone).strftime("%H:%M")) for s in stops]
    assert re.findall(r"^(\d+)\. .*ETA (\d\d:\d\d)", text, flags=re.M) == etas
    for stop in body["stops"]:
        assert all(u["serial"] in text for u in stop["units"])

    events = Calendar.from_ical(sheet(client, key, route_id, "ics")).walk("VEVENT")
    assert [str(e["uid"]) for e in events] == [f"stop-{i}@fieldrecall" for i in ids]
    assert [(e.decoded("dtstart"), e.decoded("dtend")) for e in events] == starts

    gpx = gpxpy.parse(sheet(client, key, route_id, "gpx").decode())
    assert [w.time for w in gpx.waypoints] == arrivals
    assert len(gpx.routes[0].points) == len(stops) + 2

    geo = json.loads(sheet(client, key, route_id, "geojson"))
    points = [f for f in geo["features"] if f["properties"]["kind"] == "stop"]
    assert [datetime.fromisoformat(p["properties"]["eta"]) for p in points] == arrivals
    line = next(f for f in geo["features"] if f["properties"]["kind"] == "route")
    assert line["geometry"]["coordinates"][1:-1] == [p["geometry"]["coordinates"] for p in points]
    return body


def test_every_format_has_the_stored_stops_order_and_times(
    client: TestClient, keys: Keys, world: PlanWorld, session: Session
) -> None:
    body = assert_every_format_agrees_with_the_stored_plan(
        client, keys.technician, world.route_id, session
    )
    # Each unit carries its open failure reports (RA1, RB1 were linked to the recall).
    ra1 = {
        "report_key": "RA1",
        "occurred_at": "2025-11-03T05:15:00+00:00",
        "symptom": "no boot",
        "status": "linked_to_recall",
    }
    rb1 = {
        "report_key": "RB1",
        "occurred_at": "2025-11-04T06:00:00+00:00",
        "symptom": "display dead",
        "status": "linked_to_recall",
    }
    assert [s["units"] for s in body["stops"]] == [
        [
            {"serial": "UA1", "state": "scheduled", "reports": [ra1]},
            {"serial": "UA4", "state": "scheduled", "reports": []},
        ],
        [{"serial": "UB1", "state": "scheduled", "reports": [rb1]}],
    ]
    assert body["totals"] == {
        "drive_minutes": 50,
        "distance_km": 61.5,
        "work_minutes": 310,
        "stops": 2,
        "units": 3,
    }
    assert body["stops"][0]["partner"]["email"] == "ops@alpha.example"
    assert body["stops"][0]["remedy"] == "Replace the power board"
    assert [s["arrival_window"]["start"] for s in body["stops"]] == [
        "2026-12-03T06:00:00+00:00"
    ] * 2
    gpx = gpxpy.parse(sheet(client, keys.technician, world.route_id, "gpx").decode())
    assert [p.name for p in gpx.routes[0].points] == [
        "Start",
        "1. Alpha North (SA1)",
        "2. Beta One (SB1)",
        "End",
    ]


def test_technicians_read_only_their_own_published_routes(
    client: TestClient, keys: Keys, world: PlanWorld
) -> None:
    url = f"/api/v1/routes/{world.route_id}/sheet"
    assert client.get(url, headers=h(world.other_technician)).status_code == 404
    assert client.get(url, headers=h(keys.partner_a)).status_code == 403
    assert client.get(url, headers=h(keys.lead)).status_code == 200
    assert client.get(url + "?format=docx", headers=h(keys.lead)).status_code == 422
    mine = client.get("/api/v1/technicians/me/routes", headers=h(keys.technician)).json()
    assert mine == [{"route_id": world.route_id, "day": DAY.isoformat()}]
    assert (
        client.get("/api/v1/technicians/me/routes", headers=h(world.other_technician)).json() == []
    )


def test_unpublished_plans_are_for_the_lead_only(
    client: TestClient, keys: Keys, session: Session
) -> None:
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    draft = publish_by_hand(session, campaign["id"], published=False)
    url = f"/api/v1/routes/{draft.route_id}/sheet"
    assert client.get(url, headers=h(keys.technician)).status_code == 404
    assert client.get(url, headers=h(keys.lead)).status_code == 200
    start = client.post(f"/api/v1/stops/{draft.stops['SA1']}/start", headers=h(keys.lead))
    assert start.status_code == 404


def test_secret_links_open_sheets_and_partner_pages_without_a_key(
    client: TestClient, keys: Keys, world: PlanWorld
) -> None:
    tech = client.post("/api/v1/links", headers=h(keys.technician)).json()
    assert tech["owner"] == "technician:T1"
    base = tech["urls"]["sheets"][tech["urls"]["sheets"].index("/t/") :]
    index = client.get(base)
    assert index.status_code == 200 and f"{DAY.isoformat()}.pdf" in index.text
    assert client.get(f"{base}/{DAY.isoformat()}.html").status_code == 200
    assert client.get(f"{base}/2026-12-04.html").status_code == 404
    other = client.post("/api/v1/links", headers=h(world.other_technician)).json()
    other_base = other["urls"]["sheets"][other["urls"]["sheets"].index("/t/") :]
    assert client.get(f"{other_base}/{DAY.isoformat()}.html").status_code == 404

    partner = client.post("/api/v1/links", headers=h(keys.partner_b)).json()
    status = partner["urls"]["status"][partner["urls"]["status"].index("/p/") :]
    page = client.get(status).text
    assert "Beta One" in page and "UB1: scheduled" in page
    assert "07:00\u201309:00 (Europe/Stockholm)" in page  # the promised window, in site time
    assert "Alpha" not in page and "UA1" not in page
    # A technician's token is not a partner's link, and a partner's is no sheet link.
    assert client.get(base.replace("/t/", "/p/")).status_code == 404
    assert client.get(status.replace("/p/", "/t/")).status_code == 404
    # A lead may make links for others; a partner's query cannot reach another owner.
    assert client.post("/api/v1/links", headers=h(keys.lead)).status_code == 422
    made = client.post("/api/v1/links?technician=T2", headers=h(keys.lead)).json()
    assert made["owner"] == "technician:T2"
    assert (
        client.post("/api/v1/links?partner=PB", headers=h(keys.partner_a)).json()["owner"]
        == "partner:PA"
    )
