"""The recall domain's background tasks, registered on the worker's Procrastinate app."""

from __future__ import annotations

import logging

import procrastinate

from core.db import transaction

log = logging.getLogger("fieldrecall.jobs")
DETECTION_TASK = "recall.run_detection"


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


def register(app: procrastinate.App) -> None:
    app.task(name=DETECTION_TASK, queue="fieldrecall", pass_context=False)(run_detection)
