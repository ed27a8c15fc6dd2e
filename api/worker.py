"""The one place that assembles the Procrastinate app: every domain's tasks on the
project's queue, with the worker's polling and heartbeat settings; and running a worker
on it (``fieldrecall worker``)."""

from __future__ import annotations

import procrastinate

from core.jobs import QUEUE
from core.settings import get_settings
from recall.tasks import register as register_recall
from routing.plans.tasks import register as register_plans


def worker_app(database_url: str) -> procrastinate.App:
    """The Procrastinate app with every task of the project registered."""
    settings = get_settings()
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo),
        # Retries are jobs scheduled in the future, which no NOTIFY announces when they
        # fall due: the poll interval bounds how late a worker notices them.
        worker_defaults={
            "fetch_job_polling_interval": settings.worker_poll_interval_s,
            "update_heartbeat_interval": settings.worker_heartbeat_interval_s,
            "stalled_worker_timeout": settings.worker_stalled_after_s,
        },
    )
    register_recall(app)
    register_plans(app)
    return app


def run_worker(database_url: str, *, once: bool = False) -> None:
    """Work the project's queue until stopped (SIGINT/SIGTERM end it cleanly after the
    running jobs); ``once``: process what is queued now, then return."""
    app = worker_app(database_url)
    with app.open():
        app.run_worker(queues=[QUEUE], wait=not once, install_signal_handlers=not once)
