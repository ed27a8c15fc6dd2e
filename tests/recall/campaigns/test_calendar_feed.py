"""Partners' iCalendar feeds: own scheduled visits only, at a secret URL that can be
revoked."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy.orm import Session

from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.recall.campaigns.test_lifecycle_and_ledger import schedule


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


def feed_path(client: TestClient, key: str, query: str = "") -> str:
    response = client.post(f"/api/v1/links{query}", headers=h(key))
    assert response.status_code == 201, response.text
    url = response.json()["urls"]["calendar"]
    return url[url.index("/feeds/") :]


def events(client: TestClient, path: str) -> list:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    return Calendar.from_ical(response.content).walk("VEVENT")


def test_a_partners_feed_lists_its_scheduled_visits_only(
    client: TestClient, keys: Keys, session: Session
) -> None:
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    visit_a = schedule(session, campaign["id"], "SA1", date(2026, 12, 3))
    schedule(session, campaign["id"], "SB1", date(2026, 12, 4))
    mine = events(client, feed_path(client, keys.partner_a))
    assert [str(e["uid"]) for e in mine] == [f"visit-{visit_a}@fieldrecall"]
    event = mine[0]
    assert event.decoded("dtstart").isoformat() == "2026-12-03T09:00:00+00:00"
    assert event.decoded("dtend").isoformat() == "2026-12-03T11:00:00+00:00"
    assert "Alpha North" in str(event["summary"]) and "2 unit(s)" in str(event["description"])
    assert str(event["status"]) == "TENTATIVE"
    client.post(f"/api/v1/visits/{visit_a}/confirm", headers=h(keys.partner_a))
    theirs = events(client, feed_path(client, keys.partner_b))
    assert [str(e["location"]) for e in theirs] == ["Beta One"]


def test_a_new_url_leaves_the_old_one_and_a_revoked_one_closes(
    client: TestClient, keys: Keys
) -> None:
    old = feed_path(client, keys.partner_a)
    new = feed_path(client, keys.partner_a)
    assert old != new
    assert client.get(old).status_code == 200
    [first, *_] = client.get("/api/v1/links", headers=h(keys.partner_a)).json()
    link_id = int(old.split("_")[1])
    assert client.delete(f"/api/v1/links/{link_id}", headers=h(keys.partner_a)).status_code == 200
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    assert client.get("/feeds/cal_guessed.ics").status_code == 404
    assert first["owner"] == "partner:PA"


def test_leads_name_the_partner(client: TestClient, keys: Keys) -> None:
    assert client.post("/api/v1/links", headers=h(keys.lead)).status_code == 422
    assert client.post("/api/v1/links?partner=NOPE", headers=h(keys.lead)).status_code == 404
    path = feed_path(client, keys.lead, "?partner=PB")
    assert events(client, path) == []
    # A partner cannot ask for another partner's feed: the query is ignored for partners.
    own = client.post("/api/v1/links?partner=PB", headers=h(keys.partner_a))
    assert own.json()["owner"] == "partner:PA"
