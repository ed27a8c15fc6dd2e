"""Field-plan use cases: start a plan or a re-plan (a queued version plus its job, in the
caller's transaction), read plans, publish one.

Versions count per campaign from 1; the campaign row is locked while a version number is
taken, so two leads starting plans at once get different versions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.events import record_event
from core.jobs import defer_job
from core.settings import Settings
from devices.models import Technician
from recall.campaigns.planning import campaign_for_planning, visit_labels, visits_for_planning
from recall.campaigns.publishing import ScheduledVisit, apply_published_plan
from routing.plans.models import FieldPlan, PlanRoute, PlanStop, PlanUnassigned
from routing.plans.planner import planning_timezone
from routing.plans.schemas import (
    PlanDetailOut,
    PlanOut,
    PublishOut,
    RouteOut,
    StopOut,
    UnassignedOut,
)

PLAN_TASK = "routing.plan_campaign"


def _seconds(settings: Settings, seconds: float | None) -> float:
    value = settings.plan_default_seconds if seconds is None else seconds
    if not 0 < value <= settings.plan_max_seconds:
        raise InvalidInput(f"seconds must be in (0, {settings.plan_max_seconds:g}], not {value:g}")
    return value


def _check_days(settings: Settings, first_day: date, last_day: date) -> None:
    if last_day < first_day:
        raise InvalidInput(f"last_day {last_day} is before first_day {first_day}")
    if (last_day - first_day).days + 1 > settings.plan_max_days:
        raise InvalidInput(f"a plan covers at most {settings.plan_max_days} days")


def _new_version(
    session: Session,
    *,
    campaign_id: int,
    first_day: date,
    last_day: date,
    timezone: str,
    parameters: dict[str, Any],
    actor: str,
    based_on: int | None,
    enqueue: bool,
) -> FieldPlan:
    # The lock serialises version numbers per campaign.
    campaign_for_planning(session, campaign_id=campaign_id, lock=True)
    version = (
        session.scalar(
            select(func.max(FieldPlan.version)).where(FieldPlan.campaign_id == campaign_id)
        )
        or 0
    ) + 1
    plan = FieldPlan(
        campaign_id=campaign_id,
        version=version,
        based_on_plan_id=based_on,
        status="queued",
        first_day=first_day,
        last_day=last_day,
        timezone=timezone,
        parameters=parameters,
        progress={"phase": "queued"},
        created_by=actor,
    )
    session.add(plan)
    session.flush()
    if enqueue:
        parameters["job_id"] = defer_job(session, PLAN_TASK, {"plan_id": plan.id})
        plan.parameters = dict(parameters)
    record_event(
        session,
        actor=actor,
        entity="field_plan",
        entity_key=str(plan.id),
        action="queued",
        to_state="queued",
        data={"campaign_id": campaign_id, "version": version, "based_on": based_on},
    )
    session.flush()
    return plan


def _active_campaign(session: Session, campaign_id: int) -> None:
    campaign = campaign_for_planning(session, campaign_id=campaign_id)
    if campaign.status != "active":
        raise Conflict(
            f"campaign {campaign_id} is {campaign.status}; only an active one is planned"
        )


def start_plan(
    session: Session,
    *,
    campaign_id: int,
    first_day: date,
    last_day: date,
    seconds: float | None,
    actor: str,
    settings: Settings,
    enqueue: bool = True,
) -> FieldPlan:
    """A new plan version from scratch, queued; its job is deferred in this transaction."""
    _active_campaign(session, campaign_id)
    _check_days(settings, first_day, last_day)
    limit = _seconds(settings, seconds)
    timezone = planning_timezone(settings, visits_for_planning(session, campaign_id=campaign_id))
    return _new_version(
        session,
        campaign_id=campaign_id,
        first_day=first_day,
        last_day=last_day,
        timezone=timezone,
        parameters={"seconds": limit, "kind": "plan"},
        actor=actor,
        based_on=None,
        enqueue=enqueue,
    )


def published_plan(session: Session, campaign_id: int) -> FieldPlan | None:
    return session.scalar(
        select(FieldPlan).where(
            FieldPlan.campaign_id == campaign_id, FieldPlan.status == "published"
        )
    )


def start_replan(
    session: Session,
    *,
    campaign_id: int,
    actor: str,
    settings: Settings,
    today: date | None = None,
    last_day: date | None = None,
    seconds: float | None = None,
    enqueue: bool = True,
) -> FieldPlan:
    """A new version based on the published one, from ``today`` (in the plan's zone) on:
    today's routes and confirmed visits frozen, absences, closures and finished visits
    fed in, few visits moved."""
    _active_campaign(session, campaign_id)
    base = published_plan(session, campaign_id)
    if base is None:
        raise Conflict(f"campaign {campaign_id} has no published plan to re-plan; start a plan")
    today = today or datetime.now(ZoneInfo(base.timezone)).date()
    last = last_day or base.last_day
    if last < today:
        raise Conflict(
            f"the published plan ended on {base.last_day}; give a later last_day or start a plan"
        )
    _check_days(settings, today, last)
    limit = _seconds(settings, seconds)
    return _new_version(
        session,
        campaign_id=campaign_id,
        first_day=today,
        last_day=last,
        timezone=base.timezone,
        parameters={
            "seconds": limit,
            "kind": "replan",
            "today": today.isoformat(),
            "move_cost": settings.plan_replan_move_cost,
        },
        actor=actor,
        based_on=base.id,
        enqueue=enqueue,
    )


def get_plan_row(session: Session, plan_id: int, *, lock: bool = False) -> FieldPlan:
    stmt = select(FieldPlan).where(FieldPlan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update()
    plan = session.scalar(stmt)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    return plan


def plan_out(plan: FieldPlan) -> PlanOut:
    return PlanOut.model_validate({name: getattr(plan, name) for name in PlanOut.model_fields})


def list_plans(session: Session, *, campaign_id: int) -> list[PlanOut]:
    campaign_for_planning(session, campaign_id=campaign_id)
    rows = session.scalars(
        select(FieldPlan)
        .where(FieldPlan.campaign_id == campaign_id)
        .order_by(FieldPlan.version.desc())
    )
    return [plan_out(p) for p in rows]


def plan_detail(session: Session, *, plan_id: int) -> PlanDetailOut:
    """The plan with its routes in day and technician order, stops in sequence, and the
    visits it does not serve with the reason."""
    session.expire_all()  # progress is written by the job in its own transactions
    plan = get_plan_row(session, plan_id)
    routes = session.execute(
        select(
            PlanRoute,
            Technician.technician_key,
            Technician.name,
            Technician.home_lat,
            Technician.home_lon,
        )
        .join(Technician, Technician.id == PlanRoute.technician_id)
        .where(PlanRoute.plan_id == plan_id)
        .order_by(PlanRoute.day, Technician.technician_key)
    ).all()
    stops = session.scalars(
        select(PlanStop).where(PlanStop.plan_id == plan_id).order_by(PlanStop.seq)
    ).all()
    unassigned = session.scalars(
        select(PlanUnassigned)
        .where(PlanUnassigned.plan_id == plan_id)
        .order_by(PlanUnassigned.visit_request_id)
    ).all()
    labels = visit_labels(
        session,
        visit_ids=[s.visit_request_id for s in stops] + [u.visit_request_id for u in unassigned],
    )
    by_route: dict[int, list[StopOut]] = {}
    for s in stops:
        label = labels[s.visit_request_id]
        by_route.setdefault(s.route_id, []).append(
            StopOut(
                seq=s.seq,
                visit_id=s.visit_request_id,
                site_key=label.site_key,
                site_name=label.site_name,
                partner_key=label.partner_key,
                lat=label.lat,
                lon=label.lon,
                arrival=s.arrival,
                service_start=s.service_start,
                service_end=s.service_end,
                window_start=s.window_start,
                window_end=s.window_end,
                drive_minutes_before=s.drive_minutes_before,
                distance_km_before=s.distance_km_before,
                status=s.status,
            )
        )
    return PlanDetailOut(
        **plan_out(plan).model_dump(),
        routes=[
            RouteOut(
                route_id=r.id,
                technician_key=key,
                technician_name=name,
                home_lat=home_lat,
                home_lon=home_lon,
                day=r.day,
                departure=r.departure,
                return_at=r.return_at,
                break_start=r.break_start,
                break_minutes=r.break_minutes,
                drive_minutes=r.drive_minutes,
                distance_km=r.distance_km,
                work_minutes=r.work_minutes,
                stops=by_route.get(r.id, []),
            )
            for r, key, name, home_lat, home_lon in routes
        ],
        unassigned=[
            UnassignedOut(
                visit_id=u.visit_request_id,
                site_key=labels[u.visit_request_id].site_key,
                partner_key=labels[u.visit_request_id].partner_key,
                reason=u.reason,
            )
            for u in unassigned
        ],
    )


def _carry_stop_progress(session: Session, *, old_plan_id: int, new_plan_id: int) -> None:
    """Stops technicians already started or finished keep that state in the new version."""
    worked = {
        s.visit_request_id: s
        for s in session.scalars(
            select(PlanStop).where(PlanStop.plan_id == old_plan_id, PlanStop.status != "planned")
        )
    }
    if not worked:
        return
    for stop in session.scalars(
        select(PlanStop).where(
            PlanStop.plan_id == new_plan_id, PlanStop.visit_request_id.in_(list(worked))
        )
    ):
        old = worked[stop.visit_request_id]
        stop.status, stop.started_at, stop.finished_at = (
            old.status,
            old.started_at,
            old.finished_at,
        )


def publish(
    session: Session, *, plan_id: int, actor: str, booked_visit_id: int | None = None
) -> PublishOut:
    """Publish a done plan: the published version before it becomes superseded, its
    visits are scheduled in the recall and partners told what changed, in this
    transaction. Publishing the published plan again changes nothing. A version based on
    another than the published one is refused (409): it would undo what was published
    since (a slot a partner booked, say); re-plan again. ``booked_visit_id``: the version
    moves that visit to the slot its partner booked (``routing.plans.slots``)."""
    plan = get_plan_row(session, plan_id, lock=True)
    if plan.status == "published":
        return PublishOut(
            plan=plan_out(plan),
            superseded_plan_id=None,
            new=[],
            moved=[],
            unchanged=[],
            dropped=[],
            skipped=[],
        )
    if plan.status != "done":
        why = f" ({plan.error})" if plan.error else ""
        raise Conflict(f"plan {plan_id} is {plan.status}{why}; only a done plan is published")
    campaign_for_planning(session, campaign_id=plan.campaign_id, lock=True)
    previous = published_plan(session, plan.campaign_id)
    if previous is not None and plan.based_on_plan_id not in (None, previous.id):
        raise Conflict(
            f"plan {plan_id} is based on version {plan.based_on_plan_id}, but plan "
            f"{previous.id} was published since; start a re-plan from it"
        )
    if previous is not None:
        previous.status = "superseded"
        session.flush()
        _carry_stop_progress(session, old_plan_id=previous.id, new_plan_id=plan.id)
    now = datetime.now(UTC)
    plan.status, plan.published_at, plan.published_by = "published", now, actor
    session.flush()
    scheduled = [
        ScheduledVisit(
            visit_id=stop.visit_request_id,
            day=day,
            window_start=stop.window_start,
            window_end=stop.window_end,
            technician_id=technician_id,
        )
        for stop, day, technician_id in session.execute(
            select(PlanStop, PlanRoute.day, PlanRoute.technician_id)
            .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
            .where(PlanStop.plan_id == plan.id)
        )
    ]
    summary = apply_published_plan(
        session,
        campaign_id=plan.campaign_id,
        plan_key=f"plan:{plan.id}:v{plan.version}",
        visits=scheduled,
        actor=actor,
        booked_visit_id=booked_visit_id,
    )
    record_event(
        session,
        actor=actor,
        entity="field_plan",
        entity_key=str(plan.id),
        action="published",
        from_state="done",
        to_state="published",
        data={"superseded": previous.id if previous else None, **summary.as_dict()},
    )
    session.flush()
    return PublishOut(
        plan=plan_out(plan),
        superseded_plan_id=previous.id if previous else None,
        **summary.as_dict(),
    )
