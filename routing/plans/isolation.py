"""The solver's child process: OR-Tools holds the GIL for a whole search, which in the
worker's own process would stop its heartbeat (other workers would then take the job
for a dead worker's and run it a second time) and the plan's progress thread. Jobs
hand the search to ``isolated``, which runs it in a child of the worker process (one
per long job it runs at once) and waits without holding the GIL.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from core.settings import get_settings

T = TypeVar("T")


def _die_with_parent() -> None:
    """In the solver's child: be killed when the worker dies (Linux), so a killed worker
    leaves no orphan search running."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: no such call
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # spawn: a fresh interpreter, never a fork of the worker with its event loop,
            # threads and database connections; and a child of the worker itself, so the
            # parent-death signal fires when the worker dies (a forkserver's child
            # outlived a killed worker). It starts once per worker process, with one
            # child per long job the worker runs at once.
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(
                get_settings().worker_concurrency,
                mp_context=context,
                initializer=_die_with_parent,
            )
        return _pool


def isolated(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in the solver's child process; its arguments and result
    travel by pickle (a problem with a precomputed matrix, a plan).

    A child that dies during the call (OR-Tools aborts its process on a failed internal
    check, which plan_scale met under heavy load; the kernel's out-of-memory killer) is
    replaced, and the call is made once more in the new one: a second death is the
    caller's error.
    """
    try:
        return _call(fn, args, kwargs)
    except BrokenProcessPool:
        return _call(fn, args, kwargs)


def _call(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    global _pool
    try:
        return _executor().submit(fn, *args, **kwargs).result()
    except BrokenProcessPool:
        with _pool_lock:
            _pool = None  # the child died: a new one next time
        raise
