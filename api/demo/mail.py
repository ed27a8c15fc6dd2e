"""A local mail sink for the demo: an SMTP server (aiosmtpd) on 127.0.0.1 that keeps every
message it is given as a file, so partners' notices are delivered somewhere you can read
them: ``<directory>/<n>-<recipient>.eml``, one line per message in ``<directory>/index.log``.

``fieldrecall mail-sink`` runs it: beside ``make demo``'s server and worker
(``api.demo.services``), and as the ``mail`` service of docker-compose.yml.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MailDirectory:
    """aiosmtpd handler: each message becomes a numbered .eml file and an index line."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.count = len(list(directory.glob("*.eml")))
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        subject = message_from_bytes(raw, policy=default).get("Subject", "")
        recipients = ",".join(envelope.rcpt_tos)
        with self.lock:
            self.count += 1
            safe = re.sub(r"[^A-Za-z0-9@._-]+", "_", recipients)[:80]
            path = self.directory / f"{self.count:05d}-{safe}.eml"
            path.write_bytes(raw)
            with (self.directory / "index.log").open("a", encoding="utf-8") as index:
                stamp = datetime.now(UTC).isoformat(timespec="seconds")
                index.write(f"{stamp}\t{recipients}\t{subject}\t{path.name}\n")
        return "250 OK"


@contextmanager
def mail_sink(directory: Path, *, host: str = "127.0.0.1", port: int = 2525) -> Iterator[int]:
    """Run the sink while the block runs; yields the port it listens on."""
    controller = Controller(MailDirectory(directory), hostname=host, port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
