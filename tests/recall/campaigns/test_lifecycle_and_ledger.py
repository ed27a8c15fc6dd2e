"""Unit lifecycle rules, failure-report follow-through, visits steered by partners, and the
ledger's counts, follow-up list and 24-hour promise."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from devices.models import Site
from recall.campaigns.delivered import on_delivered
from recall.campaigns.ledger import campaign_ledger
from recall.models import Campaign, OutboxMessage, VisitRequest
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


@pytest.fixture
def campaign(client: TestClient, keys: Keys) -> dict:
    return declare(client, keys.lead, batch_keys=["B1"])


def move(client: TestClient, keys: Keys, cid: int, serial: str, state: str, reason: str = "test"):
    return client.post(
        f"/api/v1/campaigns/{cid}/units/{serial}/state",
        json={"state": state, "reason": reason},
        headers=h(keys.lead),
    )


def walk(client: TestClient, keys: Keys, cid: int, serial: str, *states: str) -> None:
    for state in states:
        response = move(client, keys, cid, serial, state)
        assert response.status_code == 200, (state, response.text)


def test_the_lifecycle_goes_forward_only_along_its_arrows(
    client: TestClient, keys: Keys, campaign: dict
) -> None:
    cid = campaign["id"]
    illegal = move(client, keys, cid, "UA1", "fixed")
    assert illegal.status_code == 409
    assert illegal.json() == {
        "error": "Conflict",
        "detail": "unit UA1 is affected; it cannot become fixed (allowed: notified, waived)",
    }
    walk(client, keys, cid, "UA1", "notified", "scheduled", "notified", "scheduled", "in_progress")
    assert move(client, keys, cid, "UA1", "notified").status_code == 409
    body = move(client, keys, cid, "UA1", "fixed", "board replaced").json()
    assert body["state"] == "fixed"
    final = move(client, keys, cid, "UA1", "refused")
    assert final.status_code == 409 and "final" in final.json()["detail"]
    assert move(client, keys, cid, "UA1", "no_such_state").status_code == 422


def test_every_move_is_an_event_and_repeating_a_move_changes_nothing(
    client: TestClient, keys: Keys, campaign: dict
) -> None:
    cid = campaign["id"]
    walk(client, keys, cid, "UB1", "notified", "notified", "scheduled")
    history = client.get(f"/api/v1/campaigns/{cid}/units/UB1", headers=h(keys.lead)).json()[
        "history"
    ]
    assert [(e["from_state"], e["to_state"]) for e in history] == [
        (None, "affected"),
        ("affected", "notified"),
        ("notified", "scheduled"),
    ]
    assert {e["actor"] for e in history[1:]} == {history[1]["actor"]}
    assert history[1]["actor"].startswith("support_lead:")
    assert history[1]["reason"] == "test"


def test_fixing_a_unit_resolves_its_linked_report_and_tells_the_partner(
    client: TestClient, keys: Keys, campaign: dict, session: Session
) -> None:
    walk(client, keys, campaign["id"], "UA1", "notified", "scheduled", "in_progress", "fixed")
    report = client.get("/api/v1/failures/RA1", headers=h(keys.partner_a)).json()
    assert report["status"] == "resolved"
    assert "Replace the power board" in report["resolution_note"]
    told = session.scalars(
        select(OutboxMessage.subject).where(
            OutboxMessage.partner_key == "PA", OutboxMessage.kind == "failure_resolved"
        )
    ).all()
    assert told and all("RA1" in s for s in told)


def test_failure_reports_follow_their_own_lifecycle(
    client: TestClient, keys: Keys, campaign: dict, session: Session
) -> None:
    # RA1 was linked at declaration; resolving needs a note, and the partner sees it.
    url = "/api/v1/failures/RA1/status"
    no_note = client.post(url, json={"status": "resolved"}, headers=h(keys.lead))
    assert no_note.status_code == 422 and "resolution note" in no_note.json()["detail"]
    back = client.post(url, json={"status": "triaged"}, headers=h(keys.lead))
    assert back.status_code == 409
    done = client.post(
        url, json={"status": "resolved", "note": "Cable reseated on site."}, headers=h(keys.lead)
    )
    assert done.status_code == 204
    seen = client.get("/api/v1/failures/RA1", headers=h(keys.partner_a)).json()
    assert (seen["status"], seen["resolution_note"]) == ("resolved", "Cable reseated on site.")
    assert (
        client.post(url, json={"status": "resolved", "note": "x"}, headers=h(keys.lead)).status_code
        == 204
    )
    assert (
        session.scalar(
            select(OutboxMessage.body).where(OutboxMessage.kind == "failure_resolved")
        ).count("Cable reseated")
        == 1
    )
    # Linking needs a campaign that covers the report's unit (UA2 is batch B2).
    session.execute(
        text(
            "INSERT INTO failure_report (report_key, unit_id, occurred_at)"
            " SELECT 'RA2', id, '2025-11-05T10:00:00Z' FROM unit WHERE serial = 'UA2'"
        )
    )
    link = client.post(
        "/api/v1/failures/RA2/status",
        json={"status": "linked_to_recall", "campaign_id": campaign["id"]},
        headers=h(keys.lead),
    )
    assert link.status_code == 409 and "does not cover" in link.json()["detail"]
    assert (
        client.post(
            "/api/v1/failures/NOPE/status", json={"status": "triaged"}, headers=h(keys.lead)
        ).status_code
        == 404
    )


def visit_of(session: Session, campaign_id: int, site_key: str) -> VisitRequest:
    return session.scalars(
        select(VisitRequest)
        .join(Site, Site.id == VisitRequest.site_id)
        .where(VisitRequest.campaign_id == campaign_id, Site.site_key == site_key)
    ).one()


def schedule(session: Session, campaign_id: int, site_key: str, day: date) -> int:
    """What publishing a plan does to a visit (issue 6), done by hand."""
    visit = visit_of(session, campaign_id, site_key)
    visit.status, visit.scheduled_date = "scheduled", day
    visit.window_start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9)
    visit.window_end = visit.window_start + timedelta(hours=2)
    session.flush()
    return visit.id


def test_partners_confirm_and_reschedule_their_own_visits(
    client: TestClient, keys: Keys, campaign: dict, session: Session
) -> None:
    cid = campaign["id"]
    walk(client, keys, cid, "UA1", "notified", "scheduled")
    walk(client, keys, cid, "UA4", "notified", "scheduled")
    visit_id = schedule(session, cid, "SA1", date(2026, 12, 3))
    requested = visit_of(session, cid, "SA2").id
    unscheduled = client.post(f"/api/v1/visits/{requested}/confirm", headers=h(keys.partner_a))
    assert unscheduled.status_code == 409
    for _ in range(2):
        confirmed = client.post(f"/api/v1/visits/{visit_id}/confirm", headers=h(keys.partner_a))
        assert confirmed.status_code == 200 and confirmed.json()["partner_confirmed_at"]
    bad = client.post(
        f"/api/v1/visits/{visit_id}/reschedule",
        json={"preferred_windows": [{"start": "12:00", "end": "09:00"}]},
        headers=h(keys.partner_a),
    )
    assert bad.status_code == 422 and "ends before it starts" in bad.text
    moved = client.post(
        f"/api/v1/visits/{visit_id}/reschedule",
        json={
            "blocked_dates": ["2026-12-03", "2026-12-04"],
            "preferred_windows": [{"start": "09:00", "end": "12:00"}],
            "note": "Closed for inventory",
        },
        headers=h(keys.partner_a),
    ).json()
    assert moved["status"] == "requested" and moved["scheduled_date"] is None
    assert moved["partner_confirmed_at"] is None
    assert moved["blocked_dates"] == ["2026-12-03", "2026-12-04"]
    units = client.get(f"/api/v1/campaigns/{cid}/units?site=SA1", headers=h(keys.partner_a)).json()
    assert {u["state"] for u in units["items"]} == {"notified"}
    acks = session.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.kind == "reschedule_received")
    ).all()
    assert len(acks) >= 1


def test_ledger_counts_units_per_state_and_per_partner(
    client: TestClient, keys: Keys, campaign: dict
) -> None:
    cid = campaign["id"]
    walk(client, keys, cid, "UA1", "notified", "scheduled", "in_progress", "fixed")
    walk(client, keys, cid, "UA3", "notified", "scheduled", "in_progress", "refused")
    walk(client, keys, cid, "UA4", "notified", "scheduled")
    walk(client, keys, cid, "UB1", "notified")
    ledger = client.get(f"/api/v1/campaigns/{cid}/ledger", headers=h(keys.lead)).json()
    units = ledger["units"]
    assert {
        k: units[k] for k in ("affected", "notified", "scheduled", "fixed", "refused", "total")
    } == {
        "affected": 1,
        "notified": 1,
        "scheduled": 1,
        "fixed": 1,
        "refused": 1,
        "total": 5,
    }
    # Refused is not final: it waits for the lead, so only the fixed unit is complete.
    assert units["completion_rate"] == pytest.approx(1 / 5)
    assert units["fixed_rate"] == pytest.approx(1 / 5)
    assert ledger["decisions_pending"] == 1 and ledger["complete"] is False
    lines = {line["partner_key"]: line for line in ledger["partners"]}
    assert lines["PA"]["units"]["total"] == 4 and lines["PA"]["sites"] == 3
    assert lines["PB"]["units"]["notified"] == 1
    own = client.get(f"/api/v1/campaigns/{cid}/ledger", headers=h(keys.partner_b)).json()
    assert [line["partner_key"] for line in own["partners"]] == ["PB"]
    assert own["units"]["total"] == 1


def test_the_24_hour_promise_and_the_follow_up_list(
    client: TestClient, keys: Keys, campaign: dict, session: Session
) -> None:
    cid = campaign["id"]
    declared = session.get_one(Campaign, cid).declared_at
    # PA's notice was delivered 2 hours after the declaration; PB's never was.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.partner_key == "PA", OutboxMessage.topic == f"campaign:{cid}")
        .values(status="delivered", delivered_at=declared + timedelta(hours=2))
    )
    session.flush()
    early = campaign_ledger(
        session, campaign_id=cid, partner_id=None, now=declared + timedelta(hours=3)
    )
    lines = {line.partner_key: line for line in early.partners}
    assert lines["PA"].notified_within_24h is True
    assert lines["PB"].notified_within_24h is None  # not yet, but the day is not over
    assert early.not_notified_within_24h == [] and early.follow_up == []
    later = campaign_ledger(
        session,
        campaign_id=cid,
        partner_id=None,
        follow_up_days=3,
        now=declared + timedelta(days=4),
    )
    assert later.not_notified_within_24h == ["PB"]
    assert [(f.partner_key, f.reason) for f in later.follow_up] == [("PB", "not_reached")]
    schedule(session, cid, "SA1", date(2026, 12, 3))
    latest = campaign_ledger(
        session, campaign_id=cid, partner_id=None, now=declared + timedelta(days=4)
    )
    assert ("PA", "not_confirmed") in [(f.partner_key, f.reason) for f in latest.follow_up]


def test_a_delivered_recall_notice_moves_the_partners_units_to_notified(
    client: TestClient, keys: Keys, campaign: dict, session: Session
) -> None:
    notices = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.topic == f"campaign:{campaign['id']}", OutboxMessage.partner_key == "PA"
        )
        .order_by(OutboxMessage.id)
    ).all()
    assert notices and notices[0].kind == "recall_declared"
    assert on_delivered(session, notices[0]) == 4
    assert on_delivered(session, notices[0]) == 0  # a second channel's delivery changes nothing
    units = client.get(f"/api/v1/campaigns/{campaign['id']}/units", headers=h(keys.lead)).json()
    states = {u["serial"]: u["state"] for u in units["items"]}
    assert states == {
        "UA1": "notified",
        "UA3": "notified",
        "UA4": "notified",
        "UA5": "notified",
        "UB1": "affected",
    }
    history = client.get(
        f"/api/v1/campaigns/{campaign['id']}/units/UA1", headers=h(keys.lead)
    ).json()["history"]
    assert history[-1]["actor"] == "notifier" and "delivered" in history[-1]["reason"]
