"""Real receivers and real workers for the delivery tests.

The worker runs as its own process (`fieldrecall worker`) on its own connections, so the
data it works on must be committed: these helpers commit, and ``cleanup`` deletes it all
again so the database is empty for the tests that follow.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from devices.models import Partner
from recall.models import OutboxMessage, PartnerWebhook
from recall.notify.outbox import notify_partner

T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    *,
    deadline_s: float = 60.0,
    log: Path | None = None,
) -> T:
    """Poll until ``probe`` returns something truthy; the deadline only bounds a failure,
    which then shows the end of the worker's log."""
    end = time.monotonic() + deadline_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            tail = log.read_text()[-4000:] if log and log.exists() else ""
            raise AssertionError(f"gave up waiting for {what}\n{tail}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send_notice(session: Session, partner_key: str, key: str, **fields: Any) -> list[OutboxMessage]:
    """notify_partner with a recall notice's fields, any of which ``fields`` overrides."""
    notice: dict[str, Any] = {
        "kind": "recall_declared",
        "subject": f"Recall of batch B1 at {partner_key}",
        "body": "Two units at your site are recalled; a technician will call.",
        "data": {"campaign_id": 12, "serials": ["U1", "U2"]},
        "topic": "campaign:12",
    }
    return notify_partner(
        session, partner_key=partner_key, idempotency_key=key, **{**notice, **fields}
    )


# --- committed data -----------------------------------------------------------------


def add_partner(
    engine: Engine, key: str, *, email: str | None = None, webhook: tuple[str, str] | None = None
) -> None:
    """Commit a partner, and optionally its webhook (url, secret)."""
    with Session(engine) as session, session.begin():
        session.add(Partner(partner_key=key, name=f"Partner {key}", contact_email=email))
        session.flush()
        if webhook:
            url, secret = webhook
            session.add(PartnerWebhook(partner_key=key, url=url, secret=secret, created_by="test"))


def message_of(engine: Engine, partner_key: str) -> OutboxMessage:
    with Session(engine, expire_on_commit=False) as session:
        message = session.query(OutboxMessage).filter_by(partner_key=partner_key).one()
        session.expunge(message)
        return message


def delete_test_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("outbox_message", "partner_webhook", "api_key", "partner"):
            conn.execute(text(f"DELETE FROM {table}"))


def delete_jobs(engine: Engine) -> None:
    """Procrastinate's rows, once no worker runs any more."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE procrastinate_jobs, procrastinate_events,"
                " procrastinate_periodic_defers, procrastinate_workers CASCADE"
            )
        )


# --- workers ------------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


# The receivers here listen on loopback, which webhook targets may reach only when the
# operator's allow-list names it.
LOCAL_RECEIVERS = {"webhook_allow_networks": "127.0.0.0/8"}


def start_worker(engine: Engine, log: Path, settings: dict[str, str]) -> Worker:
    """`fieldrecall worker` as a subprocess with the given FIELDRECALL_* settings (and
    loopback allowed as a webhook target, unless ``settings`` says otherwise)."""
    exe = Path(sys.executable).with_name("fieldrecall")
    env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        **{f"FIELDRECALL_{k.upper()}": v for k, v in {**LOCAL_RECEIVERS, **settings}.items()},
    }
    out = log.open("ab")
    process = subprocess.Popen([str(exe), "worker"], env=env, stdout=out, stderr=out)
    return Worker(process=process, log=log)


# --- receivers ----------------------------------------------------------------------


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str:
        return self.headers["X-Fieldrecall-Idempotency-Key"]

    def signed_with(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers["X-Fieldrecall-Signature"])


@dataclass
class WebhookReceiver:
    """An HTTP receiver that answers with ``statuses`` in turn (then 200), can hang on
    its first request (or on every one) until released, and applies each idempotency
    key's effect once, as a real receiver that dedupes would. ``reply`` is the body it
    answers with."""

    statuses: list[int] = field(default_factory=list)
    hang_first: bool = False
    hang_all: bool = False
    reply: bytes = b"ok"
    deliveries: list[Delivery] = field(default_factory=list)
    effects: dict[str, int] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, delivery: Delivery) -> int:
        with self.lock:
            self.deliveries.append(delivery)
            first = len(self.deliveries) == 1
            if delivery.key not in self.effects:
                self.effects[delivery.key] = json.loads(delivery.body)["message_id"]
            status = self.statuses.pop(0) if self.statuses else 200
        if (first and self.hang_first) or self.hang_all:
            self.release.wait(timeout=120)
        return status


@contextmanager
def serve_webhooks(receiver: WebhookReceiver, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve ``receiver`` on 127.0.0.1 (on ``sock`` if given, a bound socket); yields the URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = receiver.handle(Delivery(headers=dict(self.headers.items()), body=body))
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(receiver.reply)))
                self.end_headers()
                self.wfile.write(receiver.reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender died while this request hung: that is the test

        def log_message(self, *args: Any) -> None:
            pass

    if sock is None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    else:
        server = ThreadingHTTPServer(sock.getsockname(), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = sock
        server.server_activate()
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}/hook"
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


class SmtpSink:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
