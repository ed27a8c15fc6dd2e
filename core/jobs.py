"""Background jobs on Procrastinate (PostgreSQL-backed; no extra infrastructure).

Jobs are deferred with Procrastinate's own SQL function on the caller's connection, so a
job commits or rolls back together with the state change that asked for it: no job
without its change, no change without its job. The worker side (``worker_app``) uses
Procrastinate's psycopg connector.
"""

from __future__ import annotations

import json
from typing import Any

import procrastinate
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
) -> int:
    """Enqueue ``task_name(**args)`` in the caller's transaction; returns the job id."""
    job_id = session.scalar(
        text(
            "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, :lock,"
            " :queueing_lock, CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1]))"
        ),
        {
            "queue": queue,
            "task": task_name,
            "lock": lock,
            "queueing_lock": queueing_lock,
            "args": json.dumps(args),
        },
    )
    assert job_id is not None
    return int(job_id)


def worker_app(database_url: str) -> procrastinate.App:
    """The Procrastinate app with every task of the project registered."""
    from recall.jobs import register as register_recall

    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    register_recall(app)
    return app
