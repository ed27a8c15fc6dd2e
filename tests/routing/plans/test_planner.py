"""Planning a campaign against real PostgreSQL: the stored plan, its promises and its
validation; publishing (visits, units, outbox notices, superseding); re-planning (today's
and confirmed visits frozen, only moved visits notified)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devices.models import Technician, Unit
from recall.models import CampaignUnit, OutboxMessage, VisitRequest
from routing.engine.problem import Plan, Unassigned
from routing.engine.validator import validate
from routing.plans import availability
from routing.plans import service as plans
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from routing.plans.planner import load_base, load_inputs, travel_from
from routing.plans.problem import build_problem
from tests.recall.campaigns.fixtures import h
from tests.routing.plans.planner_world import MON, SETTINGS, World, make_world, plan_now, replan_now

TUE, WED = MON + timedelta(days=1), MON + timedelta(days=2)


@pytest.fixture
def world(client: TestClient, session: Session) -> World:
    return make_world(client, session)


def stops_by_site(session: Session, world: World, plan_id: int) -> dict[str, tuple]:
    """site_key -> (technician key, day, stop) of a stored plan."""
    site_of = {v: k for k, v in world.visits.items()}
    rows = session.execute(
        select(PlanStop, PlanRoute.day, Technician.technician_key)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .join(Technician, Technician.id == PlanRoute.technician_id)
        .where(PlanStop.plan_id == plan_id)
    ).all()
    return {site_of[s.visit_request_id]: (tech, day, s) for s, day, tech in rows}


def notices(session: Session, kind: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == kind, OutboxMessage.channel == "email")
            .order_by(OutboxMessage.id)
        )
    )


def unit_states(session: Session, campaign_id: int) -> dict[str, str]:
    return dict(
        session.execute(
            select(Unit.serial, CampaignUnit.state)
            .join(Unit, Unit.id == CampaignUnit.unit_id)
            .where(CampaignUnit.campaign_id == campaign_id)
        ).all()
    )


def test_the_stored_plan_serves_what_it_can_keeps_hours_and_passes_the_validator(
    world: World, session: Session, sessions: sessionmaker[Session]
) -> None:
    plan_id = plan_now(session, sessions, world.campaign_id)
    plan = session.get_one(FieldPlan, plan_id)
    assert plan.status == "done", plan.error
    assert plan.timezone == "Europe/Helsinki"  # three of the four sites
    assert plan.stats is not None and plan.stats["validator"]["ok"] is True
    assert (plan.stats["visits"], plan.stats["served"]) == (4, 3)
    stops = stops_by_site(session, world, plan_id)
    # No deadline: everything as early as possible, by the technician who lives nearby.
    assert {k: (t, d) for k, (t, d, _) in stops.items()} == {
        "SA1": ("T1", MON),
        "SB1": ("T1", MON),
        "SA2": ("T2", MON),
    }
    detail = plans.plan_detail(session, plan_id=plan_id)
    assert [(u.site_key, u.reason) for u in detail.unassigned] == [("SA3", "out_of_reach")]
    # SB1 keeps Stockholm hours (09:00-18:00, i.e. from 08:00 UTC); SA1 Helsinki hours
    # (08:00-17:00, from 06:00 UTC). Each promise is 2 hours from the start's full hour.
    for key, opens_utc in (("SB1", 8), ("SA1", 6)):
        _, _, stop = stops[key]
        assert stop.service_start.hour >= opens_utc
        assert stop.window_start <= stop.service_start <= stop.window_end
        assert stop.window_end - stop.window_start == timedelta(hours=2)
        assert stop.window_start.minute == 0
    # The rows, read back as a routing plan, pass the independent validator.
    inputs = load_inputs(session, plan, SETTINGS)
    problem = build_problem(
        visits=inputs.visits,
        technicians=inputs.technicians,
        cal=inputs.cal,
        rules=inputs.rules,
        travel=travel_from(SETTINGS),
        deadline=inputs.campaign.deadline,
        absences=inputs.absences,
        closures=inputs.closures,
    )
    stored = load_base(session, plan_id, inputs.cal)
    unassigned = tuple(Unassigned(str(u.visit_id), u.reason) for u in detail.unassigned)
    assert validate(problem, Plan(stored.routes, unassigned, 0)) == []


def test_absences_closures_blocked_dates_and_preferences_steer_the_plan(
    world: World, client: TestClient, session: Session, sessions: sessionmaker[Session]
) -> None:
    availability.record_absence(
        session, technician_key="T2", first_day=MON, last_day=None, reason="flu", actor="t"
    )
    availability.record_closure(
        session, site_key="SA1", first_day=MON, last_day=TUE, reason="works", actor="t"
    )
    # Partner B blocks Monday and prefers 14:00-15:00 (Stockholm) = 15:00-16:00 Helsinki.
    response = client.post(
        f"/api/v1/visits/{world.visits['SB1']}/reschedule",
        json={
            "blocked_dates": [str(MON)],
            "preferred_windows": [{"start": "14:00", "end": "15:00"}],
        },
        headers=h(world.keys.partner_b),
    )
    assert response.status_code == 200, response.text
    plan_id = plan_now(session, sessions, world.campaign_id)
    stops = stops_by_site(session, world, plan_id)
    assert stops["SA2"][:2] == ("T2", TUE)
    assert stops["SA1"][:2] == ("T1", WED)
    assert stops["SB1"][:2] == ("T1", TUE)
    # The whole 35-minute visit lies inside 14:00-15:00 Stockholm (13:00-14:00 UTC).
    stop = stops["SB1"][2]
    assert stop.service_start.date() == TUE
    window_start = datetime.combine(TUE, time(13), UTC)
    assert window_start <= stop.service_start
    assert stop.service_end == stop.service_start + timedelta(minutes=35)
    assert stop.service_end <= window_start + timedelta(hours=1)


def test_publish_schedules_visits_moves_units_and_tells_partners_once(
    world: World, session: Session, sessions: sessionmaker[Session]
) -> None:
    plan_id = plan_now(session, sessions, world.campaign_id)
    out = plans.publish(session, plan_id=plan_id, actor="lead")
    assert sorted(out.new) == sorted(world.visits[k] for k in ("SA1", "SB1", "SA2"))
    assert (out.moved, out.unchanged, out.dropped) == ([], [], [])
    stops = stops_by_site(session, world, plan_id)
    for key in ("SA1", "SB1", "SA2"):
        visit = session.get_one(VisitRequest, world.visits[key])
        tech, day, stop = stops[key]
        assert (visit.status, visit.scheduled_date) == ("scheduled", day)
        assert visit.technician_id == session.scalar(
            select(Technician.id).where(Technician.technician_key == tech)
        )
        assert (visit.window_start, visit.window_end) == (stop.window_start, stop.window_end)
    assert session.get_one(VisitRequest, world.visits["SA3"]).status == "requested"
    assert unit_states(session, world.campaign_id) == {
        "UA1": "scheduled",
        "UA4": "scheduled",
        "UB1": "scheduled",
        "UA3": "scheduled",
        "UA5": "affected",
    }
    sent = notices(session, "visit_scheduled")
    assert sorted(m.partner_key for m in sent) == ["PA", "PA", "PB"]
    to_b = next(m for m in sent if m.partner_key == "PB")
    sb1 = stops["SB1"][2]
    assert to_b.data["scheduled_date"] == str(MON)
    assert to_b.data["window_start"] == sb1.window_start.isoformat().replace("+00:00", "Z")
    # The text gives the window in the site's own time zone (Stockholm, UTC+1).
    local = (sb1.window_start + timedelta(hours=1)).strftime("%H:%M")
    assert f"between {local} and" in to_b.body and "Europe/Stockholm" in to_b.body
    # Publishing again changes nothing and tells nobody anything.
    again = plans.publish(session, plan_id=plan_id, actor="lead")
    assert again.new == [] and len(notices(session, "visit_scheduled")) == 3
    # A second, identical version supersedes the first without a single notice.
    second = plan_now(session, sessions, world.campaign_id)
    out2 = plans.publish(session, plan_id=second, actor="lead")
    assert out2.superseded_plan_id == plan_id
    assert sorted(out2.unchanged) == sorted(out.new) and out2.new == out2.moved == []
    assert session.get_one(FieldPlan, plan_id).status == "superseded"
    assert len(notices(session, "visit_scheduled")) == 3 and notices(session, "visit_moved") == []


def test_only_done_plans_publish(
    world: World, session: Session, sessions: sessionmaker[Session]
) -> None:
    queued = plans.start_plan(
        session,
        campaign_id=world.campaign_id,
        first_day=MON,
        last_day=MON,
        seconds=1.0,
        actor="t",
        settings=SETTINGS,
        enqueue=False,
    )
    with pytest.raises(plans.Conflict, match="only a done plan"):
        plans.publish(session, plan_id=queued.id, actor="lead")


def test_replan_freezes_today_and_confirmed_visits_and_notifies_only_moved_ones(
    world: World, client: TestClient, session: Session, sessions: sessionmaker[Session]
) -> None:
    # Partners block Monday for the Oulu sites: T1 visits them on Tuesday, T2 SA2 Monday.
    for key, partner in (("SA1", world.keys.partner_a), ("SB1", world.keys.partner_b)):
        response = client.post(
            f"/api/v1/visits/{world.visits[key]}/reschedule",
            json={"blocked_dates": [str(MON)]},
            headers=h(partner),
        )
        assert response.status_code == 200, response.text
    first = plan_now(session, sessions, world.campaign_id)
    plans.publish(session, plan_id=first, actor="lead")
    before = stops_by_site(session, world, first)
    assert {k: (t, d) for k, (t, d, _) in before.items()} == {
        "SA1": ("T1", TUE),
        "SB1": ("T1", TUE),
        "SA2": ("T2", MON),
    }
    confirmed = client.post(
        f"/api/v1/visits/{world.visits['SB1']}/confirm", headers=h(world.keys.partner_b)
    )
    assert confirmed.status_code == 200
    # Both Oulu sites close on Tuesday... but SB1's partner confirmed: SB1 stays only if
    # its site is open, so close SA1 alone, and give T1 the whole Tuesday to keep SB1.
    availability.record_closure(
        session, site_key="SA1", first_day=TUE, last_day=None, reason="works", actor="t"
    )
    session.commit()
    notices_before = len(session.scalars(select(OutboxMessage.id)).all())
    second = replan_now(session, sessions, world.campaign_id, today=MON)
    plan = session.get_one(FieldPlan, second)
    assert plan.status == "done", plan.error
    assert plan.based_on_plan_id == first
    assert plan.stats is not None and plan.stats["replan"]["frozen"] >= 2
    after = stops_by_site(session, world, second)
    # Today's route and the confirmed visit: same technician, day and start.
    for key in ("SA2", "SB1"):
        assert after[key][:2] == before[key][:2]
        assert after[key][2].service_start == before[key][2].service_start
    assert after["SA1"][0] == "T1" and after["SA1"][1] not in (MON, TUE)
    out = plans.publish(session, plan_id=second, actor="lead")
    assert out.moved == [world.visits["SA1"]]
    assert sorted(out.unchanged) == sorted([world.visits["SA2"], world.visits["SB1"]])
    moved = notices(session, "visit_moved")
    assert [(m.partner_key, m.data["visit_id"]) for m in moved] == [("PA", world.visits["SA1"])]
    assert moved[0].data["scheduled_date"] == str(after["SA1"][1])
    # One partner told (one email row), nobody else.
    new_rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.kind for m in new_rows[notices_before:]] == ["visit_moved"]
    sa1 = session.get_one(VisitRequest, world.visits["SA1"])
    assert sa1.scheduled_date == after["SA1"][1] and sa1.partner_confirmed_at is None
    assert session.get_one(VisitRequest, world.visits["SB1"]).partner_confirmed_at is not None


def test_a_visit_the_new_plan_drops_goes_back_to_requested_with_a_notice(
    world: World, session: Session, sessions: sessionmaker[Session]
) -> None:
    first = plan_now(session, sessions, world.campaign_id)
    plans.publish(session, plan_id=first, actor="lead")
    # T2, the only one near Helsinki, is away all week: SA2 cannot be served.
    availability.record_absence(
        session,
        technician_key="T2",
        first_day=MON,
        last_day=date(2026, 12, 4),
        reason="leave",
        actor="t",
    )
    session.commit()
    second = plan_now(session, sessions, world.campaign_id)
    out = plans.publish(session, plan_id=second, actor="lead")
    assert out.dropped == [world.visits["SA2"]]
    sa2 = session.get_one(VisitRequest, world.visits["SA2"])
    assert (sa2.status, sa2.scheduled_date, sa2.technician_id) == ("requested", None, None)
    assert unit_states(session, world.campaign_id)["UA3"] == "notified"
    [dropped] = notices(session, "visit_unscheduled")
    assert dropped.partner_key == "PA" and dropped.data["visit_id"] == world.visits["SA2"]
