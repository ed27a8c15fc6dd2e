"""The planner service: a campaign's open visits -> routing Problem -> solved, validated Plan.

Inputs come from recall/ through its service functions (recall.campaigns.planning), the
technicians from the registry, absences and closures from routing's own tables. A first
plan solves from scratch; a re-plan starts from the published plan it is based on, keeps
today's routes and the partner-confirmed visits frozen, feeds absences, closures and
finished visits in as a routing.engine.Change, and pays a stability cost for every visit
it moves (so few do).
"""

from __future__ import annotations

import dataclasses
import time as _time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from devices.models import Technician
from recall.campaigns.planning import (
    CampaignForPlanning,
    VisitForPlanning,
    campaign_for_planning,
    visits_for_planning,
)
from routing.engine import (
    Change,
    HaversineProvider,
    OsrmProvider,
    Plan,
    PrecomputedMatrix,
    Problem,
    Route,
    SolverOptions,
    Stop,
    TravelTimeProvider,
    apply_change,
    kept_share,
    resolve,
    solve,
)
from routing.plans import availability
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from routing.plans.outcome import Outcome, outcome
from routing.plans.problem import Calendar, PlanRules, TechnicianInput, build_problem


@dataclass(frozen=True)
class PlanInputs:
    campaign: CampaignForPlanning
    cal: Calendar
    rules: PlanRules
    visits: list[VisitForPlanning]
    technicians: list[TechnicianInput]
    absences: dict[int, frozenset[date]]
    closures: dict[int, frozenset[date]]
    base: Plan | None = None
    today: date | None = None


def _hhmm(text: str) -> time:
    return time.fromisoformat(text)


def rules_from(settings: Settings, timezone: str) -> PlanRules:
    return PlanRules(
        timezone=timezone,
        lunch_minutes=settings.plan_lunch_minutes,
        lunch_from=_hhmm(settings.plan_lunch_from),
        lunch_to=_hhmm(settings.plan_lunch_to),
    )


def travel_from(settings: Settings) -> TravelTimeProvider:
    if settings.plan_osrm_url:
        return OsrmProvider(settings.plan_osrm_url)
    return HaversineProvider(circuity=settings.plan_circuity, speed_kmh=settings.plan_speed_kmh)


def planning_timezone(settings: Settings, visits: list[VisitForPlanning]) -> str:
    """The settings' zone, else the most common zone of the sites (ties: by name)."""
    if settings.plan_timezone:
        return settings.plan_timezone
    counts = Counter(v.timezone for v in visits)
    if not counts:
        return "UTC"
    return min(counts, key=lambda tz: (-counts[tz], tz))


def technicians_for(session: Session, skill: str | None) -> list[TechnicianInput]:
    """Technicians who can do the campaign's visits (all of them when no skill is needed)."""
    stmt = select(Technician).order_by(Technician.technician_key)
    if skill is not None:
        stmt = stmt.where(Technician.skills.contains([skill]))
    return [
        TechnicianInput(
            id=t.id,
            key=t.technician_key,
            name=t.name,
            lat=t.home_lat,
            lon=t.home_lon,
            skills=tuple(t.skills),
            shift_start=t.shift_start,
            shift_end=t.shift_end,
            workdays=t.workdays,
        )
        for t in session.scalars(stmt)
    ]


def load_base(session: Session, base_plan_id: int, cal: Calendar) -> Plan:
    """The stored plan's routes from ``cal.first_day`` on, as a routing Plan on ``cal``."""
    routes = session.scalars(
        select(PlanRoute)
        .where(
            PlanRoute.plan_id == base_plan_id,
            PlanRoute.day.between(cal.first_day, cal.last_day),
        )
        .order_by(PlanRoute.technician_id, PlanRoute.day)
    ).all()
    stops_by_route: dict[int, list[PlanStop]] = {}
    for stop in session.scalars(
        select(PlanStop).where(PlanStop.plan_id == base_plan_id).order_by(PlanStop.seq)
    ):
        stops_by_route.setdefault(stop.route_id, []).append(stop)
    out: list[Route] = []
    for r in routes:
        d = cal.index(r.day)
        stops = []
        for s in stops_by_route.get(r.id, []):
            stops.append(
                Stop(
                    str(s.visit_request_id),
                    cal.minutes(d, s.arrival),
                    cal.minutes(d, s.service_start),
                    cal.minutes(d, s.service_end),
                )
            )
        out.append(
            Route(
                str(r.technician_id),
                d,
                cal.minutes(d, r.departure),
                tuple(stops),
                cal.minutes(d, r.return_at),
                None if r.break_start is None else cal.minutes(d, r.break_start),
            )
        )
    return Plan(tuple(out), (), 0)


def load_inputs(session: Session, plan: FieldPlan, settings: Settings) -> PlanInputs:
    """Everything a plan needs, read in one transaction."""
    campaign = campaign_for_planning(session, campaign_id=plan.campaign_id)
    cal = Calendar(plan.first_day, plan.last_day, plan.timezone)
    base = None
    if plan.based_on_plan_id is not None:
        base = load_base(session, plan.based_on_plan_id, cal)
    today = date.fromisoformat(plan.parameters["today"]) if "today" in plan.parameters else None
    frozen_today = frozenset(
        int(s.visit_id)
        for r in (base.routes if base else ())
        if today is not None and cal.day(r.day) == today
        for s in r.stops
    )
    visits = visits_for_planning(session, campaign_id=campaign.id, include_ids=frozen_today)
    technicians = technicians_for(session, campaign.required_skill)
    return PlanInputs(
        campaign=campaign,
        cal=cal,
        rules=rules_from(settings, plan.timezone),
        visits=visits,
        technicians=technicians,
        absences=availability.absences_by_technician(
            session, [t.id for t in technicians], cal.first_day, cal.last_day
        ),
        closures=availability.closures_by_site(
            session, [v.site_id for v in visits], cal.first_day, cal.last_day
        ),
        base=base,
        today=today,
    )


def _change(inputs: PlanInputs) -> Change:
    """Absences, closures and finished visits as a re-plan change; today's route and the
    confirmed visits frozen."""
    cal = inputs.cal
    in_range = {d: i for i, d in cal.days()}
    today_index = in_range.get(inputs.today) if inputs.today else None
    routes = inputs.base.routes if inputs.base else ()
    frozen_today = {s.visit_id for r in routes if r.day == today_index for s in r.stops}
    return Change(
        absences=frozenset(
            (str(tid), in_range[d]) for tid, days in inputs.absences.items() for d in days
        ),
        closures=frozenset(
            (str(v.visit_id), in_range[d])
            for v in inputs.visits
            for d in inputs.closures.get(v.site_id, frozenset())
        ),
        done=frozenset(
            str(v.visit_id)
            for v in inputs.visits
            if v.nothing_left and str(v.visit_id) not in frozen_today
        ),
        confirmed=frozenset(str(v.visit_id) for v in inputs.visits if v.confirmed),
        today=today_index,
    )


@dataclass(frozen=True)
class Prepared:
    """The routing problem a plan solves, and what a re-plan starts from."""

    problem: Problem
    change: Change
    previous: Plan
    replanning: bool


def prepare(inputs: PlanInputs, *, travel: TravelTimeProvider) -> Prepared:
    """The campaign's visits and technicians as a routing problem, changes applied."""
    replanning = inputs.base is not None
    base_problem = build_problem(
        visits=inputs.visits,
        technicians=inputs.technicians,
        cal=inputs.cal,
        rules=inputs.rules,
        travel=travel,
        deadline=inputs.campaign.deadline,
        # A re-plan feeds these in as a change, so that frozen visits they hit are freed.
        absences=None if replanning else inputs.absences,
        closures=None if replanning else inputs.closures,
    )
    change = _change(inputs) if replanning else Change(done=_change(inputs).done)
    previous = inputs.base or Plan((), (), 0)
    problem = apply_change(base_problem, previous, change)
    return Prepared(problem, change, previous, replanning)


def here(fn: Callable[..., Plan], *args: Any, **kwargs: Any) -> Plan:
    """Run a solving function in this process (see ``routing.plans.run`` for a child)."""
    return fn(*args, **kwargs)


def compute(
    prepared: Prepared,
    *,
    travel: TravelTimeProvider,
    seconds: float,
    move_cost: int = 120,
    run: Callable[..., Plan] = here,
) -> Outcome:
    """Solve in one go and validate; ``run`` executes the solver (here, or in a child
    process that takes the travel matrix, so OSRM is asked in this one)."""
    t0 = _time.monotonic()
    problem = prepared.problem
    matrix = np.asarray(travel.matrix(problem.locations()), dtype=np.int64)
    light = dataclasses.replace(problem, travel=PrecomputedMatrix(matrix))
    options = SolverOptions(time_limit_s=seconds)
    if prepared.replanning:
        plan = run(
            resolve,
            light,
            prepared.previous,
            prepared.change,
            options,
            move_cost=move_cost,
            matrix=matrix,
        )
    else:
        plan = run(solve, light, options, matrix=matrix)
    figures: dict[str, Any] = {
        "solve_seconds": round(_time.monotonic() - t0, 2),
        "time_limit_s": seconds,
    }
    if prepared.replanning:
        previous, change = prepared.previous, prepared.change
        figures["replan"] = {
            "kept_share": round(kept_share(previous, plan, change.done), 4),
            "frozen": sum(1 for v in problem.visits if v.pin_day is not None),
            "absences": len(change.absences),
            "closures": len(change.closures),
            "done": len(change.done),
            "confirmed": len(change.confirmed),
            "new_visits": len({v.id for v in problem.visits} - set(previous.assignment())),
        }
    return outcome(problem, plan, matrix, **figures)
