"""Nothing shown that did not happen: a published visit counts as told only once a notice
with its current date is delivered, the 24-hour promise is measured to the first
delivered notice, and the follow-up list says whom to call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from recall.campaigns.delivered import on_delivered
from recall.campaigns.ledger import campaign_ledger
from recall.models import Campaign, OutboxMessage, VisitRequest
from routing.plans import service as plans
from tests.routing.plans.planner_world import World, make_world, plan_now


def deliver(session: Session, message: OutboxMessage, at: datetime) -> int:
    """What the worker does once a receiver took the notice."""
    message.status, message.delivered_at = "delivered", at
    session.flush()
    return on_delivered(session, message)


def visit_notice(session: Session, visit_id: int, kind: str = "visit_scheduled") -> OutboxMessage:
    return next(
        m
        for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        if m.data["visit_id"] == visit_id
    )


def test_a_scheduled_visit_is_told_only_when_its_date_is_delivered(
    client: TestClient, session: Session, sessions: sessionmaker[Session]
) -> None:
    world: World = make_world(client, session)
    cid = world.campaign_id
    declared = session.get_one(Campaign, cid).declared_at
    plan_id = plan_now(session, sessions, cid)
    plans.publish(session, plan_id=plan_id, actor="lead")
    session.flush()

    # Published, nothing delivered: three visits scheduled, none told; units are scheduled
    # (the plan is a fact) but the ledger says plainly that nobody knows yet.
    soon = declared + timedelta(hours=1)
    first = campaign_ledger(session, campaign_id=cid, partner_id=None, now=soon)
    assert (first.visits_scheduled_not_told, first.units_scheduled_not_told) == (3, 4)
    assert first.units.scheduled == 4
    assert first.promise_at_risk == ["PA", "PB"] and first.not_notified_within_24h == []
    calls = {(f.partner_key, f.reason) for f in first.follow_up}
    assert calls == {("PA", "not_told"), ("PB", "not_told")}
    pb_call = next(f for f in first.follow_up if f.partner_key == "PB")
    assert (pb_call.name, pb_call.contact_email) == ("Beta AB", "ops@beta.example")

    # PA hears of SA1's date: that visit is told, and PA's promise is kept.
    sa1 = world.visits["SA1"]
    at = declared + timedelta(hours=2)
    assert deliver(session, visit_notice(session, sa1), at) == 1
    assert session.get_one(VisitRequest, sa1).told_at == at
    second = campaign_ledger(session, campaign_id=cid, partner_id=None, now=soon)
    lines = {line.partner_key: line for line in second.partners}
    assert lines["PA"].promise == "kept" and lines["PA"].first_notified_at == at
    assert lines["PA"].visits_scheduled_not_told == 1  # SA2's date is not out yet
    assert second.promise_at_risk == ["PB"]
    # A day later PB still knows nothing: the promise is broken, and it stays listed.
    late = campaign_ledger(
        session, campaign_id=cid, partner_id=None, now=declared + timedelta(hours=25)
    )
    assert late.not_notified_within_24h == ["PB"] and late.promise_at_risk == []


def test_a_notice_of_an_older_date_does_not_count_as_telling_the_new_one(
    client: TestClient, session: Session, sessions: sessionmaker[Session]
) -> None:
    world: World = make_world(client, session)
    plan_id = plan_now(session, sessions, world.campaign_id)
    plans.publish(session, plan_id=plan_id, actor="lead")
    session.flush()
    sa1 = world.visits["SA1"]
    stale = visit_notice(session, sa1)
    visit = session.get_one(VisitRequest, sa1)
    assert visit.scheduled_date is not None
    visit.scheduled_date += timedelta(days=1)  # moved again before the first notice went out
    session.flush()
    assert deliver(session, stale, datetime.now(UTC)) == 0
    assert session.get_one(VisitRequest, sa1).told_at is None
    # A delivery on a second channel of an already told visit changes nothing either.
    visit.scheduled_date -= timedelta(days=1)
    session.flush()
    assert deliver(session, stale, datetime.now(UTC)) == 1
    assert deliver(session, stale, datetime.now(UTC)) == 0
