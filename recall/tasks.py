"""Every worker task of the recall domain, registered on the Procrastinate app that
``api.worker`` assembles: detection runs, the periodic re-evaluation of active recalls,
notice deliveries and the sweep that recovers lost ones.

This module composes the sub-domains: it hands ``notify`` the effect a delivered notice
has on a campaign (``campaigns.delivered.on_delivered``), so the generic outbox never
imports campaign code and the effect still commits in the delivery's own transaction.
"""

from __future__ import annotations

import asyncio
import logging

import procrastinate

from core.db import transaction
from core.jobs import QUEUE, SHORT_QUEUE
from core.settings import get_settings
from recall.campaigns.delivered import on_delivered
from recall.campaigns.service import reevaluate_active
from recall.detection.service import DETECTION_TASK, execute_run, mark_failed
from recall.notify.delivery import deliver_message, requeue_lost
from recall.notify.outbox import DELIVER_TASK

REEVALUATE_TASK = "recall.reevaluate_campaigns"
SWEEP_TASK = "recall.notify.sweep"
log = logging.getLogger("fieldrecall.jobs")


def run_detection(run_id: int) -> None:
    """Execute a queued detection run; a failure is recorded on the run, then re-raised."""
    try:
        with transaction() as session:
            execute_run(session, run_id)
    except Exception as exc:
        log.exception("detection run %s failed", run_id)
        with transaction() as session:
            mark_failed(session, run_id, f"{type(exc).__name__}: {exc}")
        raise


def reevaluate_campaigns(timestamp: int) -> int:
    """Periodic: add units that entered an active recall's scope; returns how many."""
    with transaction() as session:
        results = reevaluate_active(session, actor="scheduler")
    return sum(len(r.added_serials) for r in results.values())


def deliver(message_id: int) -> str:
    """Attempt one outbox row; the outcome, its effect on the campaign and any retry job
    commit in one go."""
    with transaction() as session:
        outcome = deliver_message(session, message_id, get_settings(), on_delivered=on_delivered)
    log.info("outbox message %s: %s", message_id, outcome)
    return outcome


def _requeue() -> list[int]:
    with transaction() as session:
        return requeue_lost(session)


async def sweep(timestamp: int) -> int:
    """Recover lost deliveries; returns how many messages got a new job. (Jobs of dead
    workers, deliveries included, are handed back by the worker's generic recovery.)"""
    # The outbox is the source of truth: a due pending row with no queued job and no
    # live attempt (the row is not locked) gets a new job, whatever befell the old one.
    requeued = await asyncio.to_thread(_requeue)
    return len(requeued)


def register(app: procrastinate.App) -> None:
    settings = get_settings()
    app.task(name=DETECTION_TASK, queue=QUEUE, pass_context=False)(run_detection)
    reevaluate_task = app.task(
        name=REEVALUATE_TASK, queue=QUEUE, pass_context=False, queueing_lock=REEVALUATE_TASK
    )(reevaluate_campaigns)
    app.periodic(cron=settings.reevaluate_cron)(reevaluate_task)
    app.task(name=DELIVER_TASK, queue=SHORT_QUEUE, pass_context=False)(deliver)
    sweep_task = app.task(
        name=SWEEP_TASK, queue=SHORT_QUEUE, pass_context=False, queueing_lock=SWEEP_TASK
    )(sweep)
    app.periodic(cron=settings.notify_sweep_cron)(sweep_task)
