"""The planning task on the worker: ``plan_campaign(plan_id)`` solves one queued plan."""

from __future__ import annotations

import procrastinate

from core.jobs import QUEUE
from routing.plan_run import run_plan
from routing.plans import PLAN_TASK


def plan_campaign(plan_id: int) -> str:
    """Solve and store the plan; progress and failures are written on the plan itself."""
    return run_plan(plan_id)


def register(app: procrastinate.App) -> None:
    app.task(name=PLAN_TASK, queue=QUEUE, pass_context=False)(plan_campaign)
