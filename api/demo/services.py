"""What runs beside the demo's server, so that nothing it shows is stuck waiting: a local
mail sink (``fieldrecall mail-sink``, ``api.demo.mail``) and a Procrastinate worker
(``fieldrecall worker``) that delivers partners' notices to it and runs the detection
runs, plans and re-plans started through the API.

Both are child processes (in the server's process, the sink would answer late while the
main job holds the interpreter, and the worker's SMTP attempts would time out). They start
before the main job, so notices go out while the plan is solved, and stop when the server
does (Ctrl-C reaches them too; the worker finishes its job and exits).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

# Ctrl-C reaches the children too: a moment to stop on their own before being asked.
GRACE_SECONDS = 2
WORKER_STOP_SECONDS = 30
SINK_START_SECONDS = 20


@dataclass(frozen=True)
class DemoServices:
    mail_dir: Path
    smtp_port: int
    sink_pid: int
    worker_pid: int
    worker_log: Path


def _fieldrecall() -> list[str]:
    """The command that runs this very installation's CLI."""
    beside = Path(sys.executable).with_name("fieldrecall")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("fieldrecall")
    if found:
        return [found]
    return [sys.executable, "-c", "from api.cli.main import main; main()"]


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Ctrl-C in a terminal reaches the children as well: give one a moment to finish on
    its own, then ask it (SIGTERM), and only then kill it."""
    for ask, wait in ((False, GRACE_SECONDS), (True, WORKER_STOP_SECONDS)):
        if ask and child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
    child.kill()
    child.wait()


def _wait_listening(port: int, sink: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + SINK_START_SECONDS
    while time.monotonic() < end and sink.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the mail sink did not start listening on 127.0.0.1:{port}")


@contextmanager
def demo_services(directory: Path, *, database_url: str, smtp_port: int) -> Iterator[DemoServices]:
    """The mail sink (files under ``<directory>/mail``) and a worker that sends to it; the
    logs of both go to ``<directory>/worker.log``."""
    mail_dir, log_path = directory / "mail", directory / "worker.log"
    directory.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        log = stack.enter_context(log_path.open("ab"))
        sink = subprocess.Popen(
            [*_fieldrecall(), "mail-sink", "--dir", str(mail_dir), "--port", str(smtp_port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(_stop, sink)
        _wait_listening(smtp_port, sink)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "FIELDRECALL_SMTP_HOST": "127.0.0.1",
            "FIELDRECALL_SMTP_PORT": str(smtp_port),
            "FIELDRECALL_SMTP_STARTTLS": "false",
        }
        worker = subprocess.Popen(
            [*_fieldrecall(), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        stack.callback(_stop, worker)  # runs first: the worker stops before the sink
        yield DemoServices(mail_dir, smtp_port, sink.pid, worker.pid, log_path)
