"""The notification tasks on the worker: one delivery attempt per job, and a periodic
sweep that recovers messages whose job was lost (a worker killed mid-delivery)."""

from __future__ import annotations

import asyncio
import logging

import procrastinate

from core.db import transaction
from core.jobs import QUEUE
from core.settings import get_settings
from recall.notify_delivery import deliver_message, requeue_lost
from recall.outbox import DELIVER_TASK

SWEEP_TASK = "recall.notify.sweep"
log = logging.getLogger("fieldrecall.notify")


def deliver(message_id: int) -> str:
    """Attempt one outbox row; the outcome (and any retry job) commits in one go."""
    with transaction() as session:
        outcome = deliver_message(session, message_id, get_settings())
    log.info("outbox message %s: %s", message_id, outcome)
    return outcome


def _requeue() -> list[int]:
    with transaction() as session:
        return requeue_lost(session)


async def sweep(context: procrastinate.JobContext, timestamp: int) -> int:
    """Recover lost deliveries; returns how many messages got a new job."""
    settings = get_settings()
    manager = context.app.job_manager
    # Procrastinate's recipe for jobs left 'doing' by a worker whose heartbeat stopped:
    # back to 'todo', where the row's state check makes them no-ops if already delivered.
    stalled = await manager.get_stalled_jobs(
        task_name=DELIVER_TASK, seconds_since_heartbeat=settings.worker_stalled_after_s
    )
    for job in stalled:
        await manager.retry_job(job)
    # The outbox is the source of truth: a due pending row with no queued job and no
    # live attempt (the row is not locked) gets a new job, whatever befell the old one.
    requeued = await asyncio.to_thread(_requeue)
    return len(requeued)


def register(app: procrastinate.App) -> None:
    app.task(name=DELIVER_TASK, queue=QUEUE, pass_context=False)(deliver)
    sweep_task = app.task(
        name=SWEEP_TASK, queue=QUEUE, pass_context=True, queueing_lock=SWEEP_TASK
    )(sweep)
    app.periodic(cron=get_settings().notify_sweep_cron)(sweep_task)
