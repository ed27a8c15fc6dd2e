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

from sqlalchemy import text
from sqlalchemy.orm import Session

QUEUE = "fieldrecall"


def defer_job(
    session: Session,
    task_name: str,
    args: dict[str, Any],
    *,
    queue: str = QUEUE,
    lock: str | None = None,
    queueing_lock: str | None = None,
    scheduled_at: datetime | None = None,
    priority: int = 0,
) -> int:
    """Enqueue ``task_name(**args)`` in the caller's transaction; returns the job id.

    ``scheduled_at`` (timezone-aware) delays the job: no worker starts it before then;
    among jobs due, workers take the highest ``priority`` first.
    """
    job_id = session.scalar(
        text(
            "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, :priority, :lock,"
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
            "priority": priority,
        },
    )
    assert job_id is not None
    return int(job_id)
