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
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

# The long queue (plans, detection runs, re-evaluations) and the short one (notice
# deliveries, sweeps): a worker process works both side by side (api.worker), so short
# jobs never wait behind a long one.
QUEUE = "fieldrecall"
SHORT_QUEUE = "fieldrecall-short"
# The advisory lock that keeps recoveries of dead workers' jobs from overlapping.
RECOVERY_LOCK = 0x66724A42


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


def is_rerun(context: procrastinate.JobContext) -> bool:
    """True when this job ran before and did not finish: its worker died and the
    recovery handed the job back (api.worker). Whatever the earlier run claimed is
    abandoned, not in progress elsewhere, so the task may take it over."""
    return context.job.attempts > 0


# The jobs of workers whose heartbeat is older than the limit (Procrastinate's own
# "stalled" test), locked so that nothing else hands them back at the same time.
_STALLED_JOBS = text(
    """
    SELECT job.id, job.task_name FROM procrastinate_jobs job
      LEFT JOIN procrastinate_workers w ON w.id = job.worker_id
     WHERE job.status = 'doing' AND job.id <> :skip
       AND (job.worker_id IS NULL
            OR w.last_heartbeat < now() - make_interval(secs => :stalled_after_s))
     ORDER BY job.id
       FOR UPDATE OF job SKIP LOCKED
    """
)


def hand_back_stalled_jobs(
    session: Session, *, stalled_after_s: float, skip_job_id: int
) -> list[tuple[int, str]]:
    """Return every job of a dead worker to the queue, in the caller's transaction;
    returns (job id, task name) of each. One recovery at a time: the transaction takes an
    advisory lock, which dies with its connection, so a recovery killed mid-way never
    blocks the next one (a Procrastinate ``lock`` on the recovery task would, for ever)."""
    if not session.scalar(select(func.pg_try_advisory_xact_lock(RECOVERY_LOCK))):
        return []  # another recovery is at work
    jobs = [
        (int(job_id), str(task))
        for job_id, task in session.execute(
            _STALLED_JOBS, {"skip": skip_job_id, "stalled_after_s": stalled_after_s}
        )
    ]
    for job_id, _ in jobs:
        session.execute(
            text("SELECT procrastinate_retry_job_v1(:id, now(), NULL, NULL, NULL)"),
            {"id": job_id},
        )
    return jobs
