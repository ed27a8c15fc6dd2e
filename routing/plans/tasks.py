"""The planning task on the worker, ``plan_campaign(plan_id)``, and its body ``run_plan``,
which solves one queued plan (``plan start --wait`` and the demo call it directly).

The solve happens outside any transaction: claiming the plan, reading its inputs,
each progress update and storing the result are short transactions of their own, so a
GET shows the phase and elapsed time while the solver works, and nothing stays locked.
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import procrastinate
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.db import session_factory
from core.jobs import QUEUE, is_rerun
from core.settings import Settings, get_settings
from routing.plans.models import FieldPlan
from routing.plans.planner import Outcome, compute, load_inputs, travel_from
from routing.plans.service import PLAN_TASK
from routing.plans.store import Promise, store_plan

log = logging.getLogger("fieldrecall.plan")
HEARTBEAT_S = 1.0


def _write(sessions: sessionmaker[Session], plan_id: int, **values: Any) -> None:
    with sessions() as session, session.begin():
        session.execute(update(FieldPlan).where(FieldPlan.id == plan_id).values(**values))


def claim(sessions: sessionmaker[Session], plan_id: int, *, rerun: bool = False) -> bool:
    """queued -> running, atomically; False when another run got it (or it is gone).
    A ``rerun`` (the job's earlier run died with its worker) takes over a plan left
    running by that run: it is solved again from the start."""
    statuses = ("queued", "running") if rerun else ("queued",)
    with sessions() as session, session.begin():
        claimed = session.execute(
            update(FieldPlan)
            .where(FieldPlan.id == plan_id, FieldPlan.status.in_(statuses))
            .values(
                status="running",
                started_at=datetime.now(UTC),
                progress={"phase": "loading", "elapsed_s": 0.0},
            )
            .returning(FieldPlan.id)
        ).first()
    return claimed is not None


class _Heartbeat:
    """Writes the solving progress about once a second from a side thread."""

    def __init__(self, report: Callable[[dict[str, Any]], None], base: dict[str, Any]) -> None:
        self._report = report
        self._base = base
        self._t0 = _time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def elapsed(self) -> float:
        return round(_time.monotonic() - self._t0, 1)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._report({**self._base, "elapsed_s": self.elapsed()})
            except Exception:  # a missed progress write must not kill the solve
                log.exception("progress write failed")

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_plan(
    plan_id: int,
    *,
    sessions: sessionmaker[Session] | None = None,
    settings: Settings | None = None,
    heartbeat: bool = True,
    rerun: bool = False,
) -> str:
    """Solve and store a queued plan; returns its final status (or 'skipped' when it was
    not queued). A failure is recorded on the plan, then re-raised. ``rerun``: the job
    ran before and its worker died (core.jobs.is_rerun)."""
    sessions = sessions or session_factory()
    settings = settings or get_settings()
    if not claim(sessions, plan_id, rerun=rerun):
        return "skipped"
    t0 = _time.monotonic()
    try:
        with sessions() as session, session.begin():
            plan = session.get_one(FieldPlan, plan_id)
            inputs = load_inputs(session, plan, settings)
            seconds = float(plan.parameters.get("seconds", settings.plan_default_seconds))
            move_cost = int(plan.parameters.get("move_cost", settings.plan_replan_move_cost))
        progress = {
            "phase": "solving",
            "time_limit_s": seconds,
            "visits": len(inputs.visits),
            "technicians": len(inputs.technicians),
        }
        _write(sessions, plan_id, progress={**progress, "elapsed_s": 0.0})

        def report(p: dict[str, Any]) -> None:
            _write(sessions, plan_id, progress=p)

        travel = travel_from(settings)
        if heartbeat:
            with _Heartbeat(report, progress):
                outcome = compute(inputs, travel=travel, seconds=seconds, move_cost=move_cost)
        else:
            outcome = compute(inputs, travel=travel, seconds=seconds, move_cost=move_cost)
        _write(
            sessions,
            plan_id,
            progress={**progress, "phase": "storing", "elapsed_s": _elapsed(t0)},
        )
        return _finish(sessions, plan_id, outcome, inputs, settings, t0)
    except Exception as exc:
        log.exception("plan %s failed", plan_id)
        _write(
            sessions,
            plan_id,
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            finished_at=datetime.now(UTC),
            progress={"phase": "failed", "elapsed_s": _elapsed(t0)},
        )
        raise


def _elapsed(t0: float) -> float:
    return round(_time.monotonic() - t0, 1)


def _finish(
    sessions: sessionmaker[Session],
    plan_id: int,
    outcome: Outcome,
    inputs: Any,
    settings: Settings,
    t0: float,
) -> str:
    with sessions() as session, session.begin():
        plan = session.get_one(FieldPlan, plan_id, with_for_update=True)
        totals = store_plan(
            session,
            plan_row=plan,
            problem=outcome.problem,
            plan=outcome.plan,
            matrix=outcome.matrix,
            cal=inputs.cal,
            visits=inputs.visits,
            promise=Promise(
                settings.plan_arrival_window_minutes, settings.plan_arrival_window_step_minutes
            ),
            circuity=settings.plan_circuity,
        )
        stats = {**outcome.stats, **totals}
        ok = stats["validator"]["ok"]
        plan.status = "done" if ok else "failed"
        if not ok:
            plan.error = (
                f"the plan fails validation: {stats['validator']['violation_count']} "
                "violations (see stats.validator)"
            )
        plan.stats = stats
        plan.finished_at = datetime.now(UTC)
        plan.progress = {"phase": plan.status, "elapsed_s": _elapsed(t0)}
        return plan.status


def plan_campaign(context: procrastinate.JobContext, plan_id: int) -> str:
    """Solve and store the plan; progress and failures are written on the plan itself.
    A job handed back after its worker died solves the plan again."""
    return run_plan(plan_id, rerun=is_rerun(context))


def register(app: procrastinate.App) -> None:
    app.task(name=PLAN_TASK, queue=QUEUE, pass_context=True)(plan_campaign)
