"""Background jobs on Procrastinate (PostgreSQL-backed; no extra infrastructure).

Jobs are deferred with Procrastinate's own SQL function on the caller's connection, so a
job commits or rolls back together with the state change that asked for it: no job
without its change, no change without its job. The worker side, the Procrastinate app
with every domain's tasks, is assembled in ``api.worker``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import procrastinate
from sqlalchemy import text
from sqlalchemy.orm import Session

# The long queue (plans, detection runs, re-evaluations) and the short one (notice
# deliveries, sweeps): a worker process works both side by side (api.worker), so short
# jobs never wait behind a long one.
QUEUE = "fieldrecall"
SHORT_QUEUE = "fieldrecall-short"


def defer_job(
    session: Session,
    task_name: str,
    args: dict[str, Any],
    *,
    queue: str = QUEUE,
    lock: str | None = None,
    queueing_lock: str | None = None,
    scheduled_at: datetime | None = None,
) -> int:
    """Enqueue ``task_name(**args)`` in the caller's transaction; returns the job id.

    ``scheduled_at`` (timezone-aware) delays the job: no worker starts it before then.
    """
    job_id = session.scalar(
        text(
            "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, :lock,"
            " :queueing_lock, CAST(:args AS jsonb), :scheduled_at)"
            "::procrastinate_job_to_defer_v1]))"
        ),
        {
            "queue": queue,
            "task": task_name,
            "lock": lock,
            "queueing_lock": queueing_lock,
            "args": json.dumps(args),
            "scheduled_at": scheduled_at,
        },
    )
    assert job_id is not None
    return int(job_id)


def is_rerun(context: procrastinate.JobContext) -> bool:
    """True when this job ran before and did not finish: its worker died and the
    recovery handed the job back (api.worker). Whatever the earlier run claimed is
    abandoned, not in progress elsewhere, so the task may take it over."""
    return context.job.attempts > 0
