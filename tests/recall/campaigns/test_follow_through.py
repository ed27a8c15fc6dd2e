"""No unit left behind: each outcome that is not a fix leads somewhere (a revisit the
planner takes like any other visit, or the support lead's decision), waived needs a
reason, completion reaches 100 % only when every unit is fixed or waived, and a closed
campaign is over for planning, re-evaluation and detection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings
from devices.models import Batch, Site
from recall.campaigns.planning import visits_for_planning
from recall.detection.repository import under_active_recall
from recall.models import CampaignUnit, OutboxMessage, VisitRequest
from routing.plans import service as plans
from routing.plans.models import PlanStop
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import PlanWorld, publish_by_hand
from tests.routing.plans.planner_world import MON, World, make_world, plan_now, replan_now


def post(client: TestClient, key: str, url: str, body: dict | None = None):
    return client.post(url, json=body, headers=h(key))


def work(client: TestClient, key: str, stop: int, outcomes: dict[str, str]) -> None:
    """The technician's visit: an outcome per unit, then finish."""
    for serial, outcome in outcomes.items():
        response = post(
            client,
            key,
            f"/api/v1/stops/{stop}/units/{serial}/outcome",
            {"outcome": outcome, "note": f"{outcome} here"},
        )
        assert response.status_code == 200, response.text
    finished = post(client, key, f"/api/v1/stops/{stop}/finish")
    assert finished.status_code == 200, finished.text


def visits_at(session: Session, campaign_id: int, site_key: str) -> list[VisitRequest]:
    session.expire_all()
    return list(
        session.scalars(
            select(VisitRequest)
            .join(Site, Site.id == VisitRequest.site_id)
            .where(VisitRequest.campaign_id == campaign_id, Site.site_key == site_key)
            .order_by(VisitRequest.attempt)
        )
    )


def stop_of(session: Session, plan_id: int, visit_id: int) -> int:
    return session.scalars(
        select(PlanStop.id).where(
            PlanStop.plan_id == plan_id, PlanStop.visit_request_id == visit_id
        )
    ).one()


def unit(client: TestClient, key: str, campaign_id: int, serial: str) -> dict:
    return client.get(f"/api/v1/campaigns/{campaign_id}/units/{serial}", headers=h(key)).json()


def ledger(client: TestClient, key: str, campaign_id: int) -> dict:
    return client.get(f"/api/v1/campaigns/{campaign_id}/ledger", headers=h(key)).json()


def last_visit_done(session: Session) -> str:
    return (
        session.scalars(
            select(OutboxMessage.body)
            .where(OutboxMessage.kind == "visit_done")
            .order_by(OutboxMessage.id.desc())
        ).first()
        or ""
    )


@pytest.fixture
def planned(client: TestClient, session: Session, sessions: sessionmaker[Session]) -> World:
    world = make_world(client, session)
    plan_id = plan_now(session, sessions, world.campaign_id)
    plans.publish(session, plan_id=plan_id, actor="lead")
    session.commit()
    return world


def _published_plan(session: Session, campaign_id: int) -> int:
    plan = plans.published_plan(session, campaign_id)
    assert plan is not None
    return plan.id


def test_unable_to_access_gets_a_revisit_the_planner_takes_and_the_unit_is_then_fixed(
    client: TestClient, session: Session, sessions: sessionmaker[Session], planned: World
) -> None:
    cid, lead = planned.campaign_id, planned.keys.lead
    first = stop_of(session, _published_plan(session, cid), planned.visits["SA1"])
    work(client, lead, first, {"UA1": "unable_to_access", "UA4": "fixed"})

    # UA1 goes back to notified with a revisit: a new request, attempt 2, for UA1 alone.
    assert unit(client, lead, cid, "UA1")["state"] == "notified"
    assert unit(client, lead, cid, "UA1")["visit_attempts"] == 1
    done, revisit = visits_at(session, cid, "SA1")
    assert (done.attempt, done.status) == (1, "done")
    assert (revisit.attempt, revisit.status, revisit.unit_count) == (2, "requested", 1)
    assert revisit.estimated_minutes == 15 + 20
    assert revisit.priority_rank == done.priority_rank  # the site keeps its place
    assert "We will come back for 1 unit (UA1)" in last_visit_done(session)
    assert ledger(client, lead, cid)["revisits_pending"] == 1

    # The re-plan takes the revisit like any other visit, and publishing schedules it.
    replan = replan_now(session, sessions, cid, today=MON + timedelta(days=1))
    published = plans.publish(session, plan_id=replan, actor="lead")
    session.commit()
    assert revisit.id in published.new
    assert unit(client, lead, cid, "UA1")["state"] == "scheduled"
    second = stop_of(session, replan, revisit.id)
    work(client, lead, second, {"UA1": "fixed"})

    history = unit(client, lead, cid, "UA1")["history"]
    assert [e["to_state"] for e in history] == [
        "affected",
        "notified",
        "scheduled",
        "in_progress",
        "unable_to_access",
        "notified",
        "scheduled",
        "in_progress",
        "fixed",
    ]
    assert "revisit" in history[5]["reason"]
    assert [v.status for v in visits_at(session, cid, "SA1")] == ["done", "done"]
    assert ledger(client, lead, cid)["revisits_pending"] == 0


def test_not_found_twice_gets_revisits_until_the_lead_waives_the_unit(
    client: TestClient, session: Session, sessions: sessionmaker[Session], planned: World
) -> None:
    cid, lead = planned.campaign_id, planned.keys.lead
    first = stop_of(session, _published_plan(session, cid), planned.visits["SA1"])
    work(client, lead, first, {"UA1": "not_found", "UA4": "fixed"})
    revisit = visits_at(session, cid, "SA1")[1]
    replan = replan_now(session, sessions, cid, today=MON + timedelta(days=1))
    plans.publish(session, plan_id=replan, actor="lead")
    session.commit()
    work(client, lead, stop_of(session, replan, revisit.id), {"UA1": "not_found"})

    # Not found twice: still under the limit of three visits, so a third is asked for.
    assert [(v.attempt, v.status) for v in visits_at(session, cid, "SA1")] == [
        (1, "done"),
        (2, "done"),
        (3, "requested"),
    ]
    assert unit(client, lead, cid, "UA1")["visit_attempts"] == 2
    # The partner says the unit was scrapped: the lead waives it, with a reason.
    refused = post(client, lead, f"/api/v1/campaigns/{cid}/units/UA1/state", {"state": "waived"})
    assert refused.status_code == 422 and "needs a reason" in refused.json()["detail"]
    waived = post(
        client,
        lead,
        f"/api/v1/campaigns/{cid}/units/UA1/state",
        {"state": "waived", "reason": "decommissioned by the partner in November"},
    ).json()
    assert waived["state"] == "waived"
    assert waived["note"] == "decommissioned by the partner in November"
    # Nothing is left to do at SA1: the third visit is cancelled, and the planner drops it.
    assert [v.status for v in visits_at(session, cid, "SA1")] == ["done", "done", "cancelled"]
    assert all(v.site_key != "SA1" for v in visits_for_planning(session, campaign_id=cid))
    counts = ledger(client, lead, cid)["units"]
    assert (counts["fixed"], counts["waived"]) == (1, 1)


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


@pytest.fixture
def campaign(client: TestClient, keys: Keys) -> dict:
    return declare(client, keys.lead, batch_keys=["B1"])


@pytest.fixture
def by_hand(campaign: dict, session: Session) -> PlanWorld:
    """A published plan written by hand: T1 visits SA1 (UA1, UA4), then SB1 (UB1)."""
    return publish_by_hand(session, campaign["id"])


def test_refused_waits_for_the_lead_who_waives_it_with_a_reason(
    client: TestClient, keys: Keys, campaign: dict, by_hand: PlanWorld, session: Session
) -> None:
    cid = campaign["id"]
    work(client, keys.technician, by_hand.stops["SA1"], {"UA1": "fixed", "UA4": "refused"})
    # No revisit by itself: the unit waits for the lead, who hears of it in the inbox.
    assert unit(client, keys.lead, cid, "UA4")["state"] == "refused"
    assert [v.status for v in visits_at(session, cid, "SA1")] == ["done"]
    assert "Our support lead will contact you about 1 unit (UA4)" in last_visit_done(session)
    inbox = client.get("/api/v1/inbox?kind=unit_refused", headers=h(keys.lead)).json()
    assert [(i["serial"], i["partner_key"], i["campaign_id"]) for i in inbox["items"]] == [
        ("UA4", "PA", cid)
    ]
    before = ledger(client, keys.lead, cid)
    assert before["decisions_pending"] == 1
    call = [f for f in before["follow_up"] if f["reason"] == "decision_pending"]
    assert [
        (f["partner_key"], f["name"], f["contact_email"], f["contact_phone"]) for f in call
    ] == [("PA", "Alpha Oy", "ops@alpha.example", "+358 1")]
    decided = post(
        client,
        keys.lead,
        f"/api/v1/campaigns/{cid}/units/UA4/state",
        {"state": "waived", "reason": "refused for good: the owner keeps the old board"},
    )
    assert decided.status_code == 200, decided.text
    last = decided.json()["history"][-1]
    assert (last["from_state"], last["to_state"]) == ("refused", "waived")
    assert last["reason"] == "refused for good: the owner keeps the old board"
    after = ledger(client, keys.lead, cid)
    assert after["decisions_pending"] == 0
    assert all(f["reason"] != "decision_pending" for f in after["follow_up"])
    # Waived is final: the lead cannot take it back, nor can anyone else move it.
    again = post(
        client,
        keys.lead,
        f"/api/v1/campaigns/{cid}/units/UA4/state",
        {"state": "notified", "reason": "changed my mind"},
    )
    assert again.status_code == 409 and "final" in again.json()["detail"]


def test_a_refused_unit_re_opened_by_the_lead_gets_a_revisit(
    client: TestClient, keys: Keys, campaign: dict, by_hand: PlanWorld, session: Session
) -> None:
    cid = campaign["id"]
    work(client, keys.technician, by_hand.stops["SA1"], {"UA1": "fixed", "UA4": "refused"})
    reopened = post(
        client,
        keys.lead,
        f"/api/v1/campaigns/{cid}/units/UA4/state",
        {"state": "notified", "reason": "the owner agreed on the phone"},
    )
    assert reopened.status_code == 200 and reopened.json()["state"] == "notified"
    assert [(v.attempt, v.status, v.unit_count) for v in visits_at(session, cid, "SA1")] == [
        (1, "done", 2),
        (2, "requested", 1),
    ]
    assert ledger(client, keys.lead, cid)["revisits_pending"] == 1


def test_after_the_last_allowed_visit_a_unit_not_found_waits_for_the_lead(
    client: TestClient,
    keys: Keys,
    campaign: dict,
    by_hand: PlanWorld,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIELDRECALL_RECALL_MAX_VISITS_PER_UNIT", "1")
    get_settings.cache_clear()
    try:
        cid = campaign["id"]
        work(client, keys.technician, by_hand.stops["SA1"], {"UA1": "fixed", "UA4": "not_found"})
        assert unit(client, keys.lead, cid, "UA4")["state"] == "not_found"
        assert [v.status for v in visits_at(session, cid, "SA1")] == ["done"]
        assert ledger(client, keys.lead, cid)["decisions_pending"] == 1
        waiting = client.get(
            f"/api/v1/campaigns/{cid}/units?decision_pending=true", headers=h(keys.lead)
        ).json()
        assert [u["serial"] for u in waiting["items"]] == ["UA4"]
        assert "could not reach the unit in 1 visits" in last_visit_done(session)
    finally:
        get_settings.cache_clear()


def test_completion_reaches_100_percent_only_when_every_unit_is_fixed_or_waived_then_it_closes(
    client: TestClient, keys: Keys, campaign: dict, by_hand: PlanWorld, session: Session
) -> None:
    cid, lead = campaign["id"], keys.lead
    work(client, keys.technician, by_hand.stops["SA1"], {"UA1": "fixed", "UA4": "refused"})
    work(client, keys.technician, by_hand.stops["SB1"], {"UB1": "fixed"})
    # UA3 (SA2) and UA5 (SA3) were never visited; UA4 was refused.
    status = ledger(client, lead, cid)
    assert status["units"]["completion_rate"] == pytest.approx(2 / 5)
    assert status["complete"] is False
    early = post(client, lead, f"/api/v1/campaigns/{cid}/close", {"note": "too soon"})
    assert early.status_code == 409
    assert "not complete (2 affected, 1 refused)" in early.json()["detail"]

    rates = []
    for serial, reason in (
        ("UA4", "refused for good"),
        ("UA3", "decommissioned: the site closed"),
        ("UA5", "replaced by the partner with a new model"),
    ):
        response = post(
            client,
            lead,
            f"/api/v1/campaigns/{cid}/units/{serial}/state",
            {"state": "waived", "reason": reason},
        )
        assert response.status_code == 200, response.text
        now = ledger(client, lead, cid)
        rates.append((now["units"]["completion_rate"], now["complete"]))
    assert rates == [(pytest.approx(3 / 5), False), (pytest.approx(4 / 5), False), (1.0, True)]
    # The sites never visited need no visit any more.
    assert {v.status for v in visits_at(session, cid, "SA2") + visits_at(session, cid, "SA3")} == {
        "cancelled"
    }

    batch_id = session.scalars(select(Batch.id).where(Batch.batch_key == "B1")).one()
    assert under_active_recall(session, batch_id) is True
    closed = post(client, lead, f"/api/v1/campaigns/{cid}/close", {"note": "all done"})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["status"], body["close_note"]) == ("closed", "all done")
    assert body["closed_at"] and body["closed_by"].startswith("support_lead:")
    assert post(client, lead, f"/api/v1/campaigns/{cid}/close").status_code == 200  # again
    told = session.execute(
        select(OutboxMessage.partner_key, OutboxMessage.data)
        .where(OutboxMessage.kind == "recall_closed")
        .order_by(OutboxMessage.partner_key)
    ).all()
    assert [(k, d["fixed"], d["waived"]) for k, d in told] == [("PA", 1, 3), ("PB", 1, 0)]
    # Over: no longer an active recall for detection, nor planned, re-evaluated or moved.
    session.expire_all()
    assert under_active_recall(session, batch_id) is False
    assert post(client, lead, f"/api/v1/campaigns/{cid}/reevaluate").status_code == 409
    plan = post(
        client,
        lead,
        f"/api/v1/campaigns/{cid}/plans",
        {"first_day": "2026-12-07", "last_day": "2026-12-11"},
    )
    assert plan.status_code == 409 and "closed" in plan.json()["detail"]
    listed = client.get("/api/v1/campaigns?status=closed", headers=h(lead)).json()
    assert [c["id"] for c in listed] == [cid]
    assert client.get("/api/v1/campaigns?status=active", headers=h(lead)).json() == []
    units = session.scalars(select(CampaignUnit.state).where(CampaignUnit.campaign_id == cid))
    assert set(units) == {"fixed", "waived"}
