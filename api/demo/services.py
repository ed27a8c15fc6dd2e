"""What runs beside the demo's server, so that nothing it shows is stuck waiting: a local
mail sink (``api.demo.mail``) and a Procrastinate worker (``fieldrecall worker`` as a
child process) that delivers partners' notices to it and runs the detection runs, plans
and re-plans started through the API.

Both start before the main job, so notices go out while the plan is solved, and both
stop when the server does (Ctrl-C reaches the worker too; it finishes its job and exits).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from api.demo.mail import mail_sink

WORKER_STOP_SECONDS = 30


@dataclass(frozen=True)
class DemoServices:
    mail_dir: Path
    smtp_port: int
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


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """Ctrl-C in a terminal reaches the worker as well: give it a moment to finish on its
    own, then ask it (SIGTERM), and only then kill it."""
    for ask, wait in ((False, 5), (True, WORKER_STOP_SECONDS)):
        if ask and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
    worker.kill()
    worker.wait()


@contextmanager
def demo_services(directory: Path, *, database_url: str, smtp_port: int) -> Iterator[DemoServices]:
    """The mail sink (files under ``<directory>/mail``) and a worker that sends to it."""
    mail_dir, log_path = directory / "mail", directory / "worker.log"
    directory.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        port = stack.enter_context(mail_sink(mail_dir, port=smtp_port))
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "FIELDRECALL_SMTP_HOST": "127.0.0.1",
            "FIELDRECALL_SMTP_PORT": str(port),
            "FIELDRECALL_SMTP_STARTTLS": "false",
        }
        log = stack.enter_context(log_path.open("ab"))
        worker = subprocess.Popen(
            [*_fieldrecall(), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        stack.callback(_stop, worker)
        yield DemoServices(mail_dir, port, worker.pid, log_path)
