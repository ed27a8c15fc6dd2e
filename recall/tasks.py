"""The recall domain's background tasks, registered on the worker's Procrastinate app."""

from __future__ import annotations

import logging

import procrastinate

from core.db import transaction
from core.settings import get_settings

log = logging.getLogger("fieldrecall.jobs")
DETECTION_TASK = "recall.run_detection"
REEVALUATE_TASK = "recall.reevaluate_campaigns"


def run_detection(run_id: int) -> None:
    """Execute a queued detection run; a failure is recorded on the run, then re-raised."""
    # Imported here: the statistics stack takes seconds to load, and every worker would
    # pay for it at start-up even when it only delivers notices.
    from recall.detection import execute_run, mark_failed

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
    from recall.campaigns import reevaluate_active

    with transaction() as session:
        results = reevaluate_active(session, actor="scheduler")
    return sum(len(r.added_serials) for r in results.values())


def register(app: procrastinate.App) -> None:
    app.task(name=DETECTION_TASK, queue="fieldrecall", pass_context=False)(run_detection)
    reevaluate_task = app.task(
        name=REEVALUATE_TASK,
        queue="fieldrecall",
        pass_context=False,
        queueing_lock=REEVALUATE_TASK,
    )(reevaluate_campaigns)
    app.periodic(cron=get_settings().reevaluate_cron)(reevaluate_task)
