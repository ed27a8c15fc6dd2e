"""The planning tasks on the worker, registered on the Procrastinate app that
``api.worker`` assembles:

- ``routing.plan_campaign(plan_id)``: ``run_plan``, the whole plan in one job, or its
  split into territories (one job each);
- ``routing.plan_territory(plan_id, index)``: one territory;
- ``routing.plan_join(plan_id)``: the territories joined, the borders repaired, the plan
  stored.

A job whose worker died is handed back to the queue by the workers' recovery
(``api.worker``), whatever its task; each body above is safe to run again (see
``routing.plans.fanout``).
"""

from __future__ import annotations

import procrastinate

from core.jobs import QUEUE, is_rerun
from routing.plans.fanout import JOIN_TASK, TERRITORY_TASK, run_join, run_territory
from routing.plans.run import run_plan
from routing.plans.service import PLAN_TASK


def plan_campaign(context: procrastinate.JobContext, plan_id: int) -> str:
    """Solve and store the plan, or split it into territory jobs; progress and failures
    are written on the plan itself. A job handed back after its worker died takes the
    plan over (unless it was split already: its territories carry on)."""
    return run_plan(plan_id, rerun=is_rerun(context), defer=True)


def plan_territory(plan_id: int, index: int) -> str:
    """Solve one territory of a plan and store its routes."""
    return run_territory(plan_id, index, defer=True)


def plan_join(plan_id: int) -> str:
    """Join a plan's solved territories and store the plan."""
    return run_join(plan_id)


def register(app: procrastinate.App) -> None:
    app.task(name=PLAN_TASK, queue=QUEUE, pass_context=True)(plan_campaign)
    app.task(name=TERRITORY_TASK, queue=QUEUE, pass_context=False)(plan_territory)
    app.task(name=JOIN_TASK, queue=QUEUE, pass_context=False)(plan_join)
