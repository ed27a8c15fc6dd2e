"""A booked slot's plan version (``routing.plans.slots``): a new version based on the
published one, whose routes before tomorrow are the published ones (today's, being
worked on, and the past), and whose routes from tomorrow are the plan with the visit
moved, stored as the planner stores its plans. Its stats say what was booked and that
the validator passed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from core.settings import Settings
from recall.campaigns.planning import VisitForPlanning, visit_labels
from routing.engine import Plan, Problem
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from routing.plans.problem import Calendar
from routing.plans.service import _new_version
from routing.plans.store import Promise, store_plan


def store_booking(
    session: Session,
    *,
    published: FieldPlan,
    cal: Calendar,
    problem: Problem,
    visits: list[VisitForPlanning],
    plan: Plan,
    matrix: np.ndarray,
    added_drive: int,
    visit_id: int,
    actor: str,
    settings: Settings,
) -> FieldPlan:
    """The booking's plan version, stored and done (not yet published): the routes of
    ``published`` before ``cal``'s first day copied, ``plan`` (from that day on, on
    ``problem``) stored."""
    route = next(r for r in plan.routes if any(s.visit_id == str(visit_id) for s in r.stops))
    row = _new_version(
        session,
        campaign_id=published.campaign_id,
        first_day=published.first_day,
        last_day=published.last_day,
        timezone=published.timezone,
        parameters={
            "kind": "slot_booked",
            "visit_id": visit_id,
            "day": cal.day(route.day).isoformat(),
            "technician_id": int(route.technician_id),
        },
        actor=actor,
        based_on=published.id,
        enqueue=False,
    )
    _copy_routes(session, source=published.id, target=row.id, before=cal.first_day)
    totals = store_plan(
        session,
        plan_row=row,
        problem=problem,
        plan=plan,
        matrix=matrix,
        cal=cal,
        visits=visits,
        promise=Promise(
            settings.plan_arrival_window_minutes, settings.plan_arrival_window_step_minutes
        ),
        circuity=settings.plan_circuity,
    )
    now = datetime.now(UTC)
    row.status, row.started_at, row.finished_at = "done", now, now
    row.progress = {"phase": "done", "elapsed_s": 0.0}
    row.stats = {
        "visits": len(problem.visits),
        "technicians": len(problem.technicians),
        "served": plan.served_count(),
        "unassigned": 0,
        "routes": len(plan.routes),
        "validator": {"ok": True, "violations": [], "violation_count": 0},
        "booking": {
            "visit_id": visit_id,
            "based_on_plan_id": published.id,
            "from_day": cal.first_day.isoformat(),
            "added_drive_minutes": added_drive,
        },
        **totals,
    }
    session.flush()
    return row


def _copied(row: Any, **changes: Any) -> Any:
    cls = type(row)
    values = {a.key: getattr(row, a.key) for a in inspect(cls).column_attrs if a.key != "id"}
    return cls(**{**values, **changes})


def _copy_routes(session: Session, *, source: int, target: int, before: date) -> None:
    """The routes of days before ``before`` as published (today's, being worked on, and
    the past), minus stops of visits now back to requested (a new plan gives them a date)."""
    routes = session.scalars(
        select(PlanRoute).where(PlanRoute.plan_id == source, PlanRoute.day < before)
    ).all()
    stops = session.scalars(
        select(PlanStop).where(PlanStop.route_id.in_([r.id for r in routes]))
    ).all()
    status = {
        vid: label.status
        for vid, label in visit_labels(
            session, visit_ids=[s.visit_request_id for s in stops]
        ).items()
    }
    for route in routes:
        copy = _copied(route, plan_id=target)
        session.add(copy)
        session.flush()
        for stop in stops:
            if stop.route_id == route.id and status.get(stop.visit_request_id) != "requested":
                session.add(_copied(stop, plan_id=target, route_id=copy.id))
    session.flush()
