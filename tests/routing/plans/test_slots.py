"""A partner's slot offers and bookings on the planner's small world (planned Mon-Fri,
published): offers fit the published plan, booking one publishes a new version in which
only that visit moved (validator clean, one notice, the lead's inbox told), a second
booking of the same slot changes nothing, a taken slot brings fresh offers, and another
partner's visit is a 404."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Conflict, NotFound
from devices.models import Technician
from recall.inbox.models import InboxItem
from recall.models import OutboxMessage, VisitRequest
from routing.plans import service as plans
from routing.plans.availability import record_absence
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from routing.plans.planner import load_base
from routing.plans.problem import Calendar
from routing.plans.slots import (
    NEEDS_LEAD,
    TOO_LATE,
    Booking,
    SlotOffers,
    book_slot,
    published_violations,
    slot_offers,
)
from tests.routing.plans.planner_world import (
    MON,
    SETTINGS,
    World,
    make_world,
    plan_now,
    replan_now,
)

SUNDAY = MON - timedelta(days=1)  # "today": every day of the plan is still to come


def slot_start(day: date) -> datetime:
    return datetime.combine(day, time(8), UTC)


def offers_of(session: Session, visit_id: int) -> SlotOffers:
    """The visit's offers as its partner asks them, on the Sunday before the plan."""
    return slot_offers(
        session,
        visit_id=visit_id,
        partner_id=partner_of(session, visit_id),
        settings=SETTINGS,
        today=SUNDAY,
    )


def book(session: Session, visit_id: int, day: date, window_start: datetime) -> Booking:
    """The visit's partner books that slot, on the Sunday before the plan."""
    return book_slot(
        session,
        visit_id=visit_id,
        partner_id=partner_of(session, visit_id),
        day=day,
        window_start=window_start,
        actor="partner:key9",
        settings=SETTINGS,
        today=SUNDAY,
    )


@pytest.fixture
def world(client: TestClient, session: Session, sessions: sessionmaker[Session]) -> World:
    world = make_world(client, session)
    plan_id = plan_now(session, sessions, world.campaign_id)
    plans.publish(session, plan_id=plan_id, actor="lead")
    session.commit()
    return world


def partner_of(session: Session, visit_id: int) -> int:
    return session.get_one(VisitRequest, visit_id).partner_id


def stops(session: Session, plan_id: int) -> dict[int, tuple[int, date, object, object]]:
    """visit id -> (technician, day, window start, service start) in a stored plan."""
    rows = session.execute(
        select(PlanStop, PlanRoute.technician_id, PlanRoute.day)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .where(PlanStop.plan_id == plan_id)
    ).all()
    return {s.visit_request_id: (t, d, s.window_start, s.service_start) for s, t, d in rows}


def test_offers_fit_the_published_plan_and_leave_out_the_slot_held(
    world: World, session: Session
) -> None:
    visit = session.get_one(VisitRequest, world.visits["SA2"])
    offers = offers_of(session, visit.id)
    assert offers.why_none is None
    assert 1 <= len(offers.slots) <= 5
    held = (visit.scheduled_date, visit.window_start)
    for slot in offers.slots:
        assert (slot.day, slot.window_start) != held
        assert slot.window_end - slot.window_start == timedelta(minutes=120)
        assert MON <= slot.day <= MON + timedelta(days=4)
    # One slot per day comes first: five days, five different days.
    assert len({s.day for s in offers.slots}) == len(offers.slots)
    assert [s.day for s in offers.slots] == sorted(s.day for s in offers.slots)


def test_booking_publishes_a_version_where_only_that_visit_moved(
    world: World, session: Session
) -> None:
    visit_id = world.visits["SA2"]
    partner_id = partner_of(session, visit_id)
    before = plans.published_plan(session, world.campaign_id)
    assert before is not None
    old_stops = stops(session, before.id)
    slot = offers_of(session, visit_id).slots[-1]
    notices_before = session.scalar(select(func.max(OutboxMessage.id)))

    booked = book(session, visit_id, slot.day, slot.window_start)
    session.commit()
    assert booked.outcome == "booked" and booked.slot == slot
    after = session.get_one(FieldPlan, booked.plan_id)
    assert (after.status, after.based_on_plan_id, after.parameters["kind"]) == (
        "published",
        before.id,
        "slot_booked",
    )
    assert after.stats["validator"] == {"ok": True, "violations": [], "violation_count": 0}
    assert session.get_one(FieldPlan, before.id).status == "superseded"
    new_stops = stops(session, after.id)
    assert set(new_stops) == set(old_stops)
    assert new_stops[visit_id][1:3] == (slot.day, slot.window_start)
    for other, (tech, day, window, _) in old_stops.items():
        if other != visit_id:  # same technician, day and promised window
            assert new_stops[other][:3] == (tech, day, window)
    visit = session.get_one(VisitRequest, visit_id)
    assert (visit.status, visit.scheduled_date, visit.window_start) == (
        "scheduled",
        slot.day,
        slot.window_start,
    )
    assert visit.partner_confirmed_at is not None  # a slot the partner chose holds
    # The engine's validator passes on the published version, read back.
    cal = Calendar(MON, after.last_day, after.timezone)
    assert load_base(session, after.id, cal).served_count() == len(new_stops)
    checked = published_violations(
        session, campaign_id=world.campaign_id, settings=SETTINGS, today=SUNDAY
    )
    assert checked == []
    new_notices = session.scalars(
        select(OutboxMessage).where(OutboxMessage.id > (notices_before or 0))
    ).all()
    assert {(m.kind, m.data["visit_id"]) for m in new_notices} == {("visit_moved", visit_id)}
    assert all("is booked" in m.subject for m in new_notices)
    inbox = session.scalars(select(InboxItem).where(InboxItem.kind == "visit_rebooked")).all()
    assert [(i.visit_id, i.partner_id) for i in inbox] == [(visit_id, partner_id)]

    # The second tap: the visit holds that slot already, nothing changes.
    again = book(session, visit_id, slot.day, slot.window_start)
    assert (again.outcome, again.plan_id) == ("unchanged", None)
    assert plans.published_plan(session, world.campaign_id).id == after.id  # type: ignore[union-attr]


def test_a_slot_taken_meanwhile_is_said_so_with_fresh_offers(
    world: World, session: Session
) -> None:
    visit_id = world.visits["SA2"]
    saturday = MON + timedelta(days=5)  # nobody works
    taken = book(session, visit_id, saturday, slot_start(saturday))
    assert taken.outcome == "taken" and taken.plan_id is None
    assert taken.offers is not None and taken.offers.slots
    assert session.scalar(select(func.count()).select_from(FieldPlan)) == 1


def test_no_offer_on_the_visit_day_and_none_for_another_partner(
    world: World, session: Session
) -> None:
    visit = session.get_one(VisitRequest, world.visits["SA2"])
    assert visit.scheduled_date is not None
    late = slot_offers(
        session,
        visit_id=visit.id,
        partner_id=visit.partner_id,
        settings=SETTINGS,
        today=visit.scheduled_date,
    )
    assert (late.slots, late.why_none) == ((), TOO_LATE)
    other = partner_of(session, world.visits["SB1"])
    with pytest.raises(NotFound):
        slot_offers(session, visit_id=visit.id, partner_id=other, settings=SETTINGS)
    with pytest.raises(NotFound):
        book_slot(
            session,
            visit_id=visit.id,
            partner_id=other,
            day=MON,
            window_start=slot_start(MON),
            actor="partner:key2",
            settings=SETTINGS,
        )


def test_a_version_based_on_a_superseded_one_is_not_published(
    world: World, session: Session, sessions: sessionmaker[Session]
) -> None:
    # A re-plan started from version 1, then a partner books (version 3 published):
    # publishing the re-plan would undo the booking, so it is refused.
    replan_id = replan_now(session, sessions, world.campaign_id, today=MON)
    visit_id = world.visits["SA2"]
    slot = offers_of(session, visit_id).slots[0]
    booked = book(session, visit_id, slot.day, slot.window_start)
    assert booked.outcome == "booked"
    with pytest.raises(Conflict, match="published since"):
        plans.publish(session, plan_id=replan_id, actor="lead")


def test_every_offered_slot_books_a_validator_clean_plan(world: World, session: Session) -> None:
    for site in ("SA1", "SB1", "SA2"):
        visit_id = world.visits[site]
        offers = offers_of(session, visit_id)
        for slot in offers.slots:
            session.begin_nested()
            booked = book(session, visit_id, slot.day, slot.window_start)
            assert booked.outcome == "booked", (site, slot, booked)
            stats = session.get_one(FieldPlan, booked.plan_id).stats
            assert stats is not None and stats["validator"]["ok"]
            session.rollback()


def test_a_plan_outdated_by_an_absence_books_nothing(world: World, session: Session) -> None:
    # T2 falls ill on the day of its route to SA2: the published plan no longer passes
    # the validator, so nothing is booked until the lead re-plans.
    visit_id = world.visits["SA2"]
    slot = offers_of(session, visit_id).slots[0]
    other = session.get_one(VisitRequest, world.visits["SA1"])
    assert other.technician_id is not None and other.scheduled_date is not None
    technician = session.get_one(Technician, other.technician_id)
    record_absence(
        session,
        technician_key=technician.technician_key,
        first_day=other.scheduled_date,
        last_day=None,
        reason="flu",
        actor="lead",
    )
    kinds = {
        v.kind
        for v in published_violations(
            session, campaign_id=world.campaign_id, settings=SETTINGS, today=SUNDAY
        )
    }
    assert "day_off" in kinds
    booking = book(session, visit_id, slot.day, slot.window_start)
    assert (booking.outcome, booking.plan_id) == ("unavailable", None)
    assert booking.offers is not None and booking.offers.why_none == NEEDS_LEAD
