"""A plan's row while a job works on it: claimed (queued -> running), progress written
in short transactions of its own, failed with the error, or finished: routes stored,
figures and the validator's verdict set, status done (or failed validation).

Every write that ends a run checks that the plan is still running under a row lock,
so a job run twice (its worker taken for dead, the job retried) stores it once.
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from recall.campaigns.planning import VisitForPlanning
from routing.plans.models import FieldPlan
from routing.plans.outcome import Outcome
from routing.plans.problem import Calendar
from routing.plans.store import Promise, store_plan

log = logging.getLogger("fieldrecall.plan")
HEARTBEAT_S = 1.0


def write_plan(sessions: sessionmaker[Session], plan_id: int, **values: Any) -> None:
    """Set columns of the plan row in a transaction of its own."""
    with sessions() as session, session.begin():
        session.execute(update(FieldPlan).where(FieldPlan.id == plan_id).values(**values))


def claim(sessions: sessionmaker[Session], plan_id: int, *, rerun: bool = False) -> bool:
    """queued -> running, atomically; False when another run got it (or it is gone).

    ``rerun``: the job is run again because its worker died in it; a plan it left
    running, not yet split into territories, is taken over.
    """
    claimable = FieldPlan.status == "queued"
    if rerun:
        claimable = or_(
            claimable, (FieldPlan.status == "running") & FieldPlan.territories.is_(None)
        )
    with sessions() as session, session.begin():
        claimed = session.execute(
            update(FieldPlan)
            .where(FieldPlan.id == plan_id, claimable)
            .values(
                status="running",
                started_at=datetime.now(UTC),
                progress={"phase": "loading", "elapsed_s": 0.0},
            )
            .returning(FieldPlan.id)
        ).first()
    return claimed is not None


class Heartbeat:
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

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_seconds(plan: FieldPlan) -> float:
    """Seconds since the plan's run started (its claim), whichever job asks."""
    if plan.started_at is None:
        return 0.0
    return round((datetime.now(UTC) - plan.started_at).total_seconds(), 1)


def fail_plan(sessions: sessionmaker[Session], plan_id: int, exc: Exception) -> None:
    """Record ``exc`` on the plan: status failed, the error, the progress's last phase."""
    log.exception("plan %s failed", plan_id)
    with sessions() as session, session.begin():
        plan = session.get_one(FieldPlan, plan_id, with_for_update=True)
        plan.status = "failed"
        plan.error = f"{type(exc).__name__}: {exc}"
        plan.finished_at = datetime.now(UTC)
        plan.progress = {"phase": "failed", "elapsed_s": run_seconds(plan)}


def finish_plan(
    sessions: sessionmaker[Session],
    plan_id: int,
    outcome: Outcome,
    *,
    cal: Calendar,
    visits: list[VisitForPlanning],
    settings: Settings,
) -> str:
    """Store the solved plan and its figures, unless another run already did."""
    with sessions() as session, session.begin():
        plan = session.get_one(FieldPlan, plan_id, with_for_update=True)
        if plan.status != "running":
            return plan.status
        totals = store_plan(
            session,
            plan_row=plan,
            problem=outcome.problem,
            plan=outcome.plan,
            matrix=outcome.matrix,
            cal=cal,
            visits=visits,
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
        plan.progress = {
            **(plan.progress or {}),
            "phase": plan.status,
            "elapsed_s": run_seconds(plan),
        }
        return plan.status
