"""The one place that assembles the Procrastinate app: every domain's tasks, the generic
recovery of jobs whose worker died, and running a worker on it (``fieldrecall worker``).

A worker process works two queues side by side, each with its own Procrastinate worker:
the long queue (plans, detection runs, re-evaluations; ``worker_concurrency`` at a time)
and the short queue (notice deliveries and the sweeps; ``notify_concurrency`` at a time),
so a plan that solves for ten minutes never holds a notice back.

Nothing is lost when a worker dies: every worker's heartbeat is in the database, and a
periodic recovery hands every job of a worker whose heartbeat stopped back to the queue,
whatever its task (Procrastinate's stalled-job recipe). Each task is therefore written to
run again: a re-run finds its work undone or finishes what the dead run claimed
(``core.jobs.is_rerun``).

When the database goes away (a restart, a failover), each queue's worker ends; it is
started again, on fresh connections, as soon as the database answers. After
``worker_reconnect_max_s`` without the database the process exits with a non-zero code,
for its supervisor (systemd, Docker's restart policy) to act on.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import procrastinate

from core.db import transaction
from core.jobs import QUEUE, SHORT_QUEUE, hand_back_stalled_jobs
from core.settings import Settings, get_settings
from recall.tasks import register as register_recall
from routing.plans.tasks import register as register_plans

RECOVER_TASK = "fieldrecall.recover_stalled_jobs"
POOL_TIMEOUT_S = 5.0
log = logging.getLogger("fieldrecall.worker")


class WorkerGaveUp(Exception):
    """The database stayed unreachable for longer than the reconnect window."""


def _hand_back(skip_job_id: int) -> list[tuple[int, str]]:
    with transaction() as session:
        return hand_back_stalled_jobs(
            session,
            stalled_after_s=get_settings().worker_stalled_after_s,
            skip_job_id=skip_job_id,
        )


async def recover_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
    """Hand the jobs of workers whose heartbeat stopped back to the queue (every task);
    returns how many. A job handed back runs again with ``attempts`` one higher."""
    assert context.job.id is not None
    handed_back = await asyncio.to_thread(_hand_back, context.job.id)
    for job_id, task in handed_back:
        log.warning("job %s (%s) lost its worker; handed it back", job_id, task)
    return len(handed_back)


def worker_app(database_url: str) -> procrastinate.App:
    """The Procrastinate app with every task of the project registered."""
    settings = get_settings()
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo,
            # A dead database is noticed within seconds, not half a minute.
            timeout=POOL_TIMEOUT_S,
        ),
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
    # One queued recovery at a time (queueing lock); overlapping runs are kept apart by
    # hand_back_stalled_jobs's advisory lock, not a Procrastinate lock: a recovery whose
    # worker died would hold that one for ever, and nothing would recover anything again.
    recover = app.task(
        name=RECOVER_TASK,
        queue=SHORT_QUEUE,
        pass_context=True,
        queueing_lock=RECOVER_TASK,
    )(recover_stalled_jobs)
    app.periodic(cron=settings.worker_recovery_cron)(recover)
    return app


def _queues(settings: Settings) -> list[tuple[str, int]]:
    return [(QUEUE, settings.worker_concurrency), (SHORT_QUEUE, settings.notify_concurrency)]


async def _keep_working(
    app: procrastinate.App, queue: str, concurrency: int, settings: Settings
) -> None:
    """Run one queue's worker; whenever it ends on its own (the database went away),
    wait for the database and start it again, or give up after
    ``worker_reconnect_max_s`` without an answer."""
    while True:
        try:
            await app.run_worker_async(
                queues=[queue],
                concurrency=concurrency,
                name=queue,
                wait=True,
                install_signal_handlers=False,
            )
            log.error("the %s worker stopped on its own", queue)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the %s worker failed", queue)
        down_since = time.monotonic()
        while not await _database_answers(app, settings):
            if time.monotonic() - down_since > settings.worker_reconnect_max_s:
                raise WorkerGaveUp(
                    f"no database for {settings.worker_reconnect_max_s:g} s; the {queue} "
                    "worker gives up"
                )
            await asyncio.sleep(settings.worker_reconnect_delay_s)
        log.warning("the database answers again; restarting the %s worker", queue)


async def _database_answers(app: procrastinate.App, settings: Settings) -> bool:
    try:
        return bool(await asyncio.wait_for(app.check_connection_async(), timeout=POOL_TIMEOUT_S))
    except Exception:
        return False


async def _open(app: procrastinate.App, settings: Settings) -> None:
    """Open the app's connection pool, waiting for the database up to the reconnect
    window (a worker may start before the database)."""
    deadline = time.monotonic() + settings.worker_reconnect_max_s
    while True:
        try:
            await app.open_async()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise WorkerGaveUp("the database did not answer; the worker gives up") from None
            log.warning("the database does not answer yet; trying again", exc_info=True)
            await asyncio.sleep(settings.worker_reconnect_delay_s)


async def _work(database_url: str, *, once: bool) -> None:
    settings = get_settings()
    # Synchronous tasks run in the loop's default executor: give it a thread for each
    # job the two workers may run at once.
    threads = sum(concurrency for _, concurrency in _queues(settings)) + 2
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=threads))
    app = worker_app(database_url)
    if once:
        async with app.open_async():
            for queue, concurrency in _queues(settings):
                await app.run_worker_async(
                    queues=[queue],
                    concurrency=concurrency,
                    wait=False,
                    install_signal_handlers=False,
                )
        return
    await _open(app, settings)
    try:
        workers = [
            asyncio.create_task(_keep_working(app, queue, concurrency, settings), name=queue)
            for queue, concurrency in _queues(settings)
        ]
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Cancelling a Procrastinate worker stops it gracefully: running jobs finish.
            loop.add_signal_handler(signum, lambda: [w.cancel() for w in workers])
        done, pending = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        await app.close_async()


def run_worker(database_url: str, *, once: bool = False) -> None:
    """Work the project's queues until stopped (SIGINT/SIGTERM end it cleanly after the
    running jobs); ``once``: process what is queued now, then return. Raises WorkerGaveUp
    when the database stays away longer than the reconnect window."""
    asyncio.run(_work(database_url, once=once))
