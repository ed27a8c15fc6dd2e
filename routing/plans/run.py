"""Running a plan: ``run_plan`` claims a queued plan, reads its inputs, and either
solves and stores it in one go (a re-plan, or up to ``DEFAULT_MAX_VISITS`` visits: one
job), or splits it into territories (``routing.plans.fanout``), one job each.

The solve happens outside any transaction: claiming the plan, reading its inputs,
each progress update and storing the result are short transactions of their own, so a
GET shows the phase and elapsed time while the solver works, and nothing stays locked;
the search itself runs in the solver's child process (``routing.plans.isolation``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.db import session_factory
from core.settings import Settings, get_settings
from routing.plans.fanout import run_join, run_territory, split_plan, territory_plan
from routing.plans.isolation import isolated
from routing.plans.models import FieldPlan
from routing.plans.outcome import Outcome
from routing.plans.planner import compute, load_inputs, prepare, travel_from
from routing.plans.state import Heartbeat, claim, fail_plan, finish_plan, write_plan


def run_plan(
    plan_id: int,
    *,
    sessions: sessionmaker[Session] | None = None,
    settings: Settings | None = None,
    heartbeat: bool = True,
    rerun: bool = False,
    defer: bool = False,
) -> str:
    """Solve and store a queued plan; returns its final status ('skipped' when it was not
    queued). A large plan is split into territories: with ``defer`` each becomes a job
    and this returns 'split'; without, they are solved here one after the other. A
    failure is recorded on the plan, then re-raised. ``rerun``: the job ran before and
    its worker died (core.jobs.is_rerun)."""
    sessions = sessions or session_factory()
    settings = settings or get_settings()
    if not claim(sessions, plan_id, rerun=rerun):
        return "skipped"
    try:
        with sessions() as session, session.begin():
            plan = session.get_one(FieldPlan, plan_id)
            inputs = load_inputs(session, plan, settings)
            seconds = float(plan.parameters.get("seconds", settings.plan_default_seconds))
            move_cost = int(plan.parameters.get("move_cost", settings.plan_replan_move_cost))
        travel = travel_from(settings)
        prepared = prepare(inputs, travel=travel)
        if territory_plan(prepared, settings.plan_territory_visits):
            count = split_plan(
                sessions,
                plan_id,
                prepared,
                seconds,
                max_visits=settings.plan_territory_visits,
                defer=defer,
            )
            if defer:
                return "split"
            for index in range(count):
                run_territory(plan_id, index, sessions=sessions, settings=settings)
            return run_join(plan_id, sessions=sessions, settings=settings)
        progress = {
            "phase": "solving",
            "time_limit_s": seconds,
            "visits": len(inputs.visits),
            "technicians": len(inputs.technicians),
        }
        write_plan(sessions, plan_id, progress={**progress, "elapsed_s": 0.0})

        def report(p: dict[str, Any]) -> None:
            write_plan(sessions, plan_id, progress=p)

        def solve_now() -> Outcome:
            return compute(
                prepared, travel=travel, seconds=seconds, move_cost=move_cost, run=isolated
            )

        if heartbeat:
            with Heartbeat(report, progress):
                outcome = solve_now()
        else:
            outcome = solve_now()
        write_plan(sessions, plan_id, progress={**progress, "phase": "storing"})
        return finish_plan(
            sessions, plan_id, outcome, cal=inputs.cal, visits=inputs.visits, settings=settings
        )
    except Exception as exc:
        fail_plan(sessions, plan_id, exc)
        raise
