"""The support lead's inbox of partner actions: what lands in it (confirmations,
reschedule requests, failure reports, refusals; the lead's own actions do not), the
filters, and marking items read and unread, one or many."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import PlanWorld, publish_by_hand


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


@pytest.fixture
def world(client: TestClient, keys: Keys, session: Session) -> tuple[int, PlanWorld]:
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    return campaign["id"], publish_by_hand(session, campaign["id"])


def inbox(client: TestClient, keys: Keys, query: str = "") -> dict:
    response = client.get(f"/api/v1/inbox{query}", headers=h(keys.lead))
    assert response.status_code == 200, response.text
    return response.json()


def act(client: TestClient, keys: Keys, world: tuple[int, PlanWorld]) -> None:
    """Every kind of partner action once, plus the lead doing the same on PB's behalf."""
    plan = world[1]
    sa1, sb1 = plan.visits["SA1"], plan.visits["SB1"]
    assert (
        client.post(f"/api/v1/visits/{sa1}/confirm", headers=h(keys.partner_a)).status_code == 200
    )
    assert client.post(f"/api/v1/visits/{sb1}/confirm", headers=h(keys.lead)).status_code == 200
    moved = client.post(
        f"/api/v1/visits/{sb1}/reschedule",
        json={"blocked_dates": ["2026-12-03"], "note": "stocktaking that day"},
        headers=h(keys.partner_b),
    )
    assert moved.status_code == 200, moved.text
    reported = client.post(
        "/api/v1/failures",
        json={
            "report_key": "RA5",
            "serial": "UA2",
            "occurred_at": "2025-12-01T06:30:00+02:00",
            "symptom": "flickers",
        },
        headers=h(keys.partner_a),
    )
    assert reported.status_code == 200, reported.text
    stop = plan.stops["SA1"]
    refused = client.post(
        f"/api/v1/stops/{stop}/units/UA4/outcome",
        json={"outcome": "refused", "note": "the owner says no"},
        headers=h(keys.technician),
    )
    assert refused.status_code == 200, refused.text


def test_partner_actions_land_in_the_inbox_newest_first(
    client: TestClient, keys: Keys, world: tuple[int, PlanWorld]
) -> None:
    act(client, keys, world)
    cid, plan = world
    items = inbox(client, keys)["items"]
    assert [(i["kind"], i["partner_key"]) for i in items] == [
        ("unit_refused", "PA"),
        ("failure_reported", "PA"),
        ("reschedule_requested", "PB"),
        ("visit_confirmed", "PA"),  # the lead's confirmation for PB is not in it
    ]
    refused, reported, rescheduled, confirmed = items
    assert (refused["serial"], refused["site_key"], refused["campaign_id"]) == ("UA4", "SA1", cid)
    assert "the owner says no" in refused["summary"]
    assert (reported["report_key"], reported["serial"], reported["campaign_id"]) == (
        "RA5",
        "UA2",
        None,
    )
    assert rescheduled["visit_id"] == plan.visits["SB1"]
    assert rescheduled["data"]["blocked_dates"] == ["2026-12-03"]
    assert "stocktaking that day" in rescheduled["summary"]
    assert (confirmed["visit_id"], confirmed["site_key"]) == (plan.visits["SA1"], "SA1")
    assert all(i["read"] is False and i["read_at"] is None for i in items)
    one = client.get(f"/api/v1/inbox/{confirmed['id']}", headers=h(keys.lead)).json()
    assert one == confirmed


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ("?kind=visit_confirmed", ["visit_confirmed"]),
        ("?partner=PB", ["reschedule_requested"]),
        ("?campaign={cid}", ["unit_refused", "reschedule_requested", "visit_confirmed"]),
        ("?unread=false", []),
        ("?unread=true&partner=PA&kind=failure_reported", ["failure_reported"]),
    ],
)
def test_the_inbox_filters(
    client: TestClient, keys: Keys, world: tuple[int, PlanWorld], query: str, kinds: list[str]
) -> None:
    act(client, keys, world)
    body = inbox(client, keys, query.format(cid=world[0]))
    assert [i["kind"] for i in body["items"]] == kinds
    assert body["total"] == len(kinds)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?kind=visit_booked", "kind"),
        ("?partner=PX", "no partner 'PX'"),
        ("?campaign=999999", "no campaign 999999"),
        ("?unread=maybe", "unread"),
        ("?status=unread", "unknown query parameter 'status'"),
    ],
)
def test_an_unknown_filter_value_is_a_422_naming_it(
    client: TestClient, keys: Keys, query: str, named: str
) -> None:
    response = client.get(f"/api/v1/inbox{query}", headers=h(keys.lead))
    assert response.status_code == 422
    assert named in str(response.json()["detail"])


def test_marking_items_read_and_unread(
    client: TestClient, keys: Keys, world: tuple[int, PlanWorld]
) -> None:
    act(client, keys, world)
    ids = [i["id"] for i in inbox(client, keys)["items"]]
    read = client.post(f"/api/v1/inbox/{ids[0]}/read", headers=h(keys.lead)).json()
    assert read["read"] is True and read["read_by"].startswith("support_lead:")
    first_read_at = read["read_at"]
    again = client.post(f"/api/v1/inbox/{ids[0]}/read", headers=h(keys.lead)).json()
    assert again["read_at"] == first_read_at  # who read it first, and when, stays
    assert inbox(client, keys, "?unread=true")["total"] == 3
    summary = client.get("/api/v1/inbox/summary", headers=h(keys.lead)).json()
    assert summary == {
        "unread": 3,
        "unread_by_kind": {
            "failure_reported": 1,
            "reschedule_requested": 1,
            "visit_confirmed": 1,
        },
        "total": 4,
    }
    unread = client.post(f"/api/v1/inbox/{ids[0]}/unread", headers=h(keys.lead)).json()
    assert unread["read"] is False and unread["read_by"] is None

    # Many at once: an unknown id refuses the whole request and changes nothing.
    missing = client.post(
        "/api/v1/inbox/mark", json={"ids": [ids[1], 999999]}, headers=h(keys.lead)
    )
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    assert inbox(client, keys, "?unread=true")["total"] == 4
    marked = client.post("/api/v1/inbox/mark", json={"ids": ids[:3]}, headers=h(keys.lead))
    assert marked.json() == {"changed": 3, "unread": 1}
    back = client.post(
        "/api/v1/inbox/mark", json={"ids": ids[:2], "read": False}, headers=h(keys.lead)
    )
    assert back.json() == {"changed": 2, "unread": 3}
    assert client.get("/api/v1/inbox/999999", headers=h(keys.lead)).status_code == 404
    assert client.post("/api/v1/inbox/999999/read", headers=h(keys.lead)).status_code == 404
