"""The planning tasks on the worker, registered on the Procrastinate app that
``api.worker`` assembles:

- ``routing.plan_campaign(plan_id)``: ``run_plan``, the whole plan in one job, or its
  split into territories (one job each);
- ``routing.plan_territory(plan_id, index)``: one territory;
- ``routing.plan_join(plan_id)``: the territories joined, the borders repaired, the plan
  stored;
- ``routing.recover_plans`` (periodic): the planning jobs of workers whose heartbeat
  stopped go back to the queue, as Procrastinate recommends for stalled jobs; each body
  above is safe to run again (see ``routing.plans.fanout``).
"""

from __future__ import annotations

import logging

import procrastinate

from core.jobs import QUEUE
from core.settings import get_settings
from routing.plans.fanout import JOIN_TASK, TERRITORY_TASK, run_join, run_territory
from routing.plans.run import run_plan
from routing.plans.service import PLAN_TASK

RECOVER_TASK = "routing.recover_plans"
PLANNING_TASKS = (PLAN_TASK, TERRITORY_TASK, JOIN_TASK)
log = logging.getLogger("fieldrecall.plan")


def plan_campaign(context: procrastinate.JobContext, plan_id: int) -> str:
    """Solve and store the plan, or split it into territory jobs; progress and failures
    are written on the plan itself."""
    return run_plan(plan_id, retry=context.job.attempts > 0, defer=True)


def plan_territory(plan_id: int, index: int) -> str:
    """Solve one territory of a plan and store its routes."""
    return run_territory(plan_id, index, defer=True)


def plan_join(plan_id: int) -> str:
    """Join a plan's solved territories and store the plan."""
    return run_join(plan_id)


async def recover_plans(context: procrastinate.JobContext, timestamp: int) -> int:
    """Planning jobs left 'doing' by a dead worker back to 'todo'; returns how many."""
    settings = get_settings()
    manager = context.app.job_manager
    retried = 0
    for task in PLANNING_TASKS:
        stalled = await manager.get_stalled_jobs(
            task_name=task, seconds_since_heartbeat=settings.worker_stalled_after_s
        )
        for job in stalled:
            try:
                await manager.retry_job(job)
            except Exception:  # another worker's sweep retried it first
                log.info("stalled job %s was recovered elsewhere", job.id)
                continue
            log.warning("job %s (%s) of a dead worker goes back to the queue", job.id, task)
            retried += 1
    return retried


def register(app: procrastinate.App) -> None:
    settings = get_settings()
    app.task(name=PLAN_TASK, queue=QUEUE, pass_context=True)(plan_campaign)
    app.task(name=TERRITORY_TASK, queue=QUEUE, pass_context=False)(plan_territory)
    app.task(name=JOIN_TASK, queue=QUEUE, pass_context=False)(plan_join)
    recover_task = app.task(
        name=RECOVER_TASK, queue=QUEUE, pass_context=True, queueing_lock=RECOVER_TASK
    )(recover_plans)
    app.periodic(cron=settings.plan_recover_cron)(recover_task)
