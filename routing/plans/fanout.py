"""A large plan as one job per territory, then one job that joins them.

``split_plan`` (in the plan's own job) splits the problem into territories
(``routing.engine.split``) and, in one transaction, stores each territory's problem in a
``plan_territory`` row, sets the plan's ``territories`` count and defers one
``routing.plan_territory`` job per territory. Any worker, on any machine sharing the
database, takes one: ``run_territory`` solves it (its share of the plan's time limit)
and stores its routes; the transaction that stores one also counts it done on the plan
row, under that row's lock, and the one that counts the last defers
``routing.plan_join``. ``run_join`` joins the territories' plans, repairs the borders,
validates and stores the plan.

Nothing is lost when a worker dies: a territory is stored and counted once (its row
goes queued -> done under the plan row's lock), so a job retried after its worker died
(the workers' recovery, ``api.worker``, hands back the jobs of dead workers) solves it
again and counts it then; a join that already stored the plan finds it done.
"""

from __future__ import annotations

import dataclasses
import time as _time
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import session_factory
from core.jobs import defer_job
from core.settings import Settings, get_settings
from recall.campaigns.planning import visits_for_planning
from routing.engine import (
    Plan,
    PrecomputedMatrix,
    Problem,
    SolverOptions,
    join,
    join_seconds,
    plan_from_dict,
    plan_to_dict,
    problem_from_dict,
    problem_to_dict,
    restrict,
    solve,
    split,
    territory_count,
    territory_seconds,
)
from routing.plans.isolation import isolated
from routing.plans.models import FieldPlan, PlanTerritory
from routing.plans.outcome import outcome
from routing.plans.planner import Prepared, travel_from
from routing.plans.problem import Calendar
from routing.plans.state import fail_plan, finish_plan, run_seconds, write_plan

TERRITORY_TASK = "routing.plan_territory"
JOIN_TASK = "routing.plan_join"


def territory_plan(prepared: Prepared, max_visits: int) -> bool:
    """Is this plan solved as territories? A first plan of more than ``max_visits``
    visits is; a re-plan re-solves a neighbourhood of the published plan in one job."""
    return not prepared.replanning and territory_count(prepared.problem, max_visits) > 1


def split_plan(
    sessions: sessionmaker[Session],
    plan_id: int,
    prepared: Prepared,
    seconds: float,
    *,
    max_visits: int,
    defer: bool,
) -> int:
    """Store the plan's territories of about ``max_visits`` visits (and, with ``defer``,
    one job each); returns how many. A plan already split (its job retried) is left
    as it is."""
    problem = prepared.problem
    parts = split(problem, territory_count(problem, max_visits))
    with sessions() as session, session.begin():
        plan = session.get_one(FieldPlan, plan_id, with_for_update=True)
        if plan.territories is not None:
            return plan.territories
        for index, (techs, visits) in enumerate(parts):
            session.add(
                PlanTerritory(
                    plan_id=plan_id,
                    index=index,
                    problem=problem_to_dict(restrict(problem, techs, visits)),
                    seconds=territory_seconds(problem, len(visits), seconds, len(parts)),
                )
            )
        plan.territories, plan.territories_done = len(parts), 0
        plan.progress = {
            "phase": "solving",
            "territories": len(parts),
            "territories_done": 0,
            "time_limit_s": seconds,
            "visits": len(problem.visits),
            "technicians": len(problem.technicians),
            "elapsed_s": run_seconds(plan),
        }
        session.flush()
        if defer:
            for index, (_, visits) in enumerate(parts):
                # The largest territories first, so the last round of a few workers is
                # the small ones.
                defer_job(
                    session,
                    TERRITORY_TASK,
                    {"plan_id": plan_id, "index": index},
                    priority=len(visits),
                )
    return len(parts)


def _matrix_problem(problem: Problem) -> tuple[Problem, np.ndarray]:
    """The problem with its travel matrix computed here (OSRM is asked by this process,
    whose cache serves the next job) and standing in for the provider."""
    matrix = np.asarray(problem.travel.matrix(problem.locations()), dtype=np.int64)
    return dataclasses.replace(problem, travel=PrecomputedMatrix(matrix)), matrix


def run_territory(
    plan_id: int,
    index: int,
    *,
    sessions: sessionmaker[Session] | None = None,
    settings: Settings | None = None,
    defer: bool = False,
) -> str:
    """Solve one territory and store its routes; 'done', or 'skipped' when the plan is no
    longer running or the territory was stored already. With ``defer``, storing the last
    territory defers the join."""
    sessions = sessions or session_factory()
    settings = settings or get_settings()
    with sessions() as session, session.begin():
        plan = session.get_one(FieldPlan, plan_id)
        row = session.get_one(PlanTerritory, (plan_id, index), with_for_update=True)
        if plan.status != "running" or row.status == "done":
            return "skipped"
        row.attempts += 1
        row.started_at = datetime.now(UTC)
        data, seconds = row.problem, row.seconds
    try:
        problem, matrix = _matrix_problem(problem_from_dict(data, travel_from(settings)))
        solved = isolated(solve, problem, SolverOptions(time_limit_s=seconds), matrix=matrix)
        return _store_territory(sessions, plan_id, index, solved, defer=defer)
    except Exception as exc:
        fail_plan(sessions, plan_id, exc)
        raise


def _store_territory(
    sessions: sessionmaker[Session], plan_id: int, index: int, solved: Plan, *, defer: bool
) -> str:
    with sessions() as session, session.begin():
        plan = session.get_one(FieldPlan, plan_id, with_for_update=True)
        if plan.status != "running":
            return "skipped"
        stored = session.execute(
            update(PlanTerritory)
            .where(
                PlanTerritory.plan_id == plan_id,
                PlanTerritory.index == index,
                PlanTerritory.status == "queued",
            )
            .values(status="done", result=plan_to_dict(solved), finished_at=datetime.now(UTC))
            .returning(PlanTerritory.index)
        ).first()
        if stored is None:
            return "skipped"  # another run of this job stored it first
        plan.territories_done += 1
        plan.progress = {
            **(plan.progress or {}),
            "territories_done": plan.territories_done,
            "elapsed_s": run_seconds(plan),
        }
        if plan.territories_done == plan.territories:
            plan.progress = {**plan.progress, "phase": "joining"}
            if defer:
                defer_job(session, JOIN_TASK, {"plan_id": plan_id})
    return "done"


def run_join(
    plan_id: int,
    *,
    sessions: sessionmaker[Session] | None = None,
    settings: Settings | None = None,
) -> str:
    """Join the solved territories, repair the borders, validate and store the plan;
    returns its status ('skipped' when it is not running, or not every territory is in)."""
    sessions = sessions or session_factory()
    settings = settings or get_settings()
    t0 = _time.monotonic()
    with sessions() as session, session.begin():
        plan = session.get_one(FieldPlan, plan_id)
        if plan.status != "running" or plan.territories_done != plan.territories:
            return "skipped"
        rows = session.scalars(
            select(PlanTerritory)
            .where(PlanTerritory.plan_id == plan_id)
            .order_by(PlanTerritory.index)
        ).all()
        parts = [(r.problem, r.result or {}) for r in rows]
        seconds = float(plan.parameters.get("seconds", settings.plan_default_seconds))
        cal = Calendar(plan.first_day, plan.last_day, plan.timezone)
        visits = visits_for_planning(session, campaign_id=plan.campaign_id)
        progress: dict[str, Any] = dict(plan.progress or {})
        started = run_seconds(plan)
    try:
        write_plan(sessions, plan_id, progress={**progress, "phase": "joining"})
        travel = travel_from(settings)
        pieces = [problem_from_dict(p, travel) for p, _ in parts]
        problem = Problem(
            visits=tuple(v for p in pieces for v in p.visits),
            technicians=tuple(t for p in pieces for t in p.technicians),
            horizon=pieces[0].horizon,
            travel=travel,
            costs=pieces[0].costs,
        )
        plans = [plan_from_dict(r) for _, r in parts]
        budget = SolverOptions(time_limit_s=max(1.0, join_seconds(seconds, len(parts))))
        joined = isolated(join, problem, plans, budget)
        figures = {
            "solve_seconds": round(started + _time.monotonic() - t0, 2),
            "join_seconds": round(_time.monotonic() - t0, 2),
            "time_limit_s": seconds,
            "territories": len(parts),
        }
        result = outcome(problem, joined, None, **figures)
        write_plan(sessions, plan_id, progress={**progress, "phase": "storing"})
        return finish_plan(sessions, plan_id, result, cal=cal, visits=visits, settings=settings)
    except Exception as exc:
        fail_plan(sessions, plan_id, exc)
        raise
