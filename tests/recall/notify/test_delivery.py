"""Delivery by a real worker (`fieldrecall worker`, a subprocess) to real local receivers:
an SMTP server (aiosmtpd) and HTTP webhook receivers, all on 127.0.0.1. Data is
committed (the worker has its own connections) and deleted again after each test."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.keys import create_key
from recall.models import OutboxMessage
from recall.notify.outbox import DELIVER_TASK
from tests.recall.notify.harness import (
    SmtpSink,
    WebhookReceiver,
    Worker,
    add_partner,
    delete_jobs,
    delete_test_rows,
    message_of,
    send_notice,
    serve_webhooks,
    smtp_server,
    start_worker,
    wait_for,
)

SENDER = "recall@fieldrecall.test"
MAX_ATTEMPTS = 4
SECRET = "a-webhook-secret-of-the-partner"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def worker(
    engine: Engine, smtp: tuple[SmtpSink, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    settings = {
        "smtp_host": "127.0.0.1",
        "smtp_port": str(smtp[1]),
        "smtp_from": SENDER,
        "notify_backoff_base_s": "0.3",
        "notify_max_attempts": str(MAX_ATTEMPTS),
        "notify_sweep_cron": "* * * * * *",
        "webhook_timeout_s": "5",
        "worker_poll_interval_s": "0.1",
    }
    log: Path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(engine, log, settings)
    try:
        yield process
    finally:
        process.stop()
        delete_test_rows(engine)
        delete_jobs(engine)


@pytest.fixture(autouse=True)
def committed(engine: Engine) -> Iterator[None]:
    yield
    delete_test_rows(engine)


def notify(engine: Engine, partner_key: str, key: str) -> list[OutboxMessage]:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return send_notice(session, partner_key, key)


def settled(engine: Engine, partner_key: str, worker: Worker) -> OutboxMessage:
    def probe() -> OutboxMessage | None:
        assert worker.process.poll() is None, worker.log.read_text()
        message = message_of(engine, partner_key)
        return message if message.status != "pending" else None

    return wait_for(f"{partner_key}'s message to settle", probe, log=worker.log)


def test_email_goes_through_a_real_smtp_server(
    engine: Engine, worker: Worker, smtp: tuple[SmtpSink, int]
) -> None:
    sink = smtp[0]
    add_partner(engine, "PM", email="ops@mail.example")
    [row] = notify(engine, "PM", "campaign:12:declared:PM")

    message = settled(engine, "PM", worker)
    assert (message.status, message.attempts, message.last_error) == ("delivered", 1, None)
    assert message.delivered_at is not None and message.delivered_at >= message.created_at
    [envelope] = sink.envelopes
    assert envelope.mail_from == SENDER and envelope.rcpt_tos == ["ops@mail.example"]
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert mail["Subject"] == "Recall of batch B1 at PM"
    assert mail["To"] == "ops@mail.example"
    assert mail["X-Fieldrecall-Idempotency-Key"] == "campaign:12:declared:PM"
    assert mail["X-Fieldrecall-Topic"] == "campaign:12"
    assert re.fullmatch(r"<[0-9a-f]{40}@fieldrecall\.test>", mail["Message-ID"])
    assert "a technician will call" in mail.get_content()
    assert row.id == message.id


def test_a_webhook_that_fails_twice_gets_the_notice_on_the_third_attempt(
    engine: Engine, worker: Worker
) -> None:
    receiver = WebhookReceiver(statuses=[503, 500])
    with serve_webhooks(receiver) as url:
        add_partner(engine, "PW", webhook=(url, SECRET))
        notify(engine, "PW", "campaign:12:declared:PW")
        message = settled(engine, "PW", worker)

    assert (message.status, message.attempts) == ("delivered", 3)
    assert message.last_error == "the receiver answered HTTP 500"
    assert len(receiver.deliveries) == 3
    assert all(d.signed_with(SECRET) for d in receiver.deliveries)
    assert not receiver.deliveries[0].signed_with("another secret")
    assert {d.key for d in receiver.deliveries} == {"campaign:12:declared:PW"}
    assert len({d.body for d in receiver.deliveries}) == 1  # the same bytes every time
    assert receiver.effects == {"campaign:12:declared:PW": message.id}
    payload = json.loads(receiver.deliveries[-1].body)
    assert payload["data"] == {"campaign_id": 12, "serials": ["U1", "U2"]}
    assert (payload["kind"], payload["partner_key"]) == ("recall_declared", "PW")
    assert int(receiver.deliveries[-1].headers["X-Fieldrecall-Timestamp"]) > 0


def test_a_receiver_that_keeps_failing_ends_as_a_dead_letter_shown_in_the_api(
    engine: Engine, worker: Worker
) -> None:
    receiver = WebhookReceiver(statuses=[500] * (MAX_ATTEMPTS + 5))
    with serve_webhooks(receiver) as url:
        add_partner(engine, "PD", webhook=(url, SECRET))
        notify(engine, "PD", "campaign:12:declared:PD")
        message = settled(engine, "PD", worker)

    assert (message.status, message.attempts) == ("dead", MAX_ATTEMPTS)
    assert len(receiver.deliveries) == MAX_ATTEMPTS
    with Session(engine) as session, session.begin():
        lead = create_key(session, role="support_lead")
        partner = create_key(session, role="partner", partner_key="PD")
    client = TestClient(create_app(sessionmaker(bind=engine)))
    dead = client.get("/api/v1/outbox?status=dead", headers={"X-API-Key": lead}).json()
    assert [(m["id"], m["attempts"]) for m in dead["items"]] == [(message.id, MAX_ATTEMPTS)]
    assert dead["items"][0]["last_error"] == "the receiver answered HTTP 500"
    own = client.get("/api/v1/outbox?status=dead", headers={"X-API-Key": partner}).json()
    assert [m["id"] for m in own["items"]] == [message.id]


def test_nothing_is_lost_while_the_receiver_is_down(engine: Engine, worker: Worker) -> None:
    down = socket.socket()
    down.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    host, port = down.getsockname()
    add_partner(engine, "PO", webhook=(f"http://{host}:{port}/hook", SECRET))
    notify(engine, "PO", "campaign:12:declared:PO")

    def refused_once() -> bool:
        message = message_of(engine, "PO")
        return message.attempts >= 1 and message.last_error == "could not connect to the receiver"

    wait_for("a refused attempt", refused_once, log=worker.log)
    assert message_of(engine, "PO").status == "pending"
    receiver = WebhookReceiver()
    with serve_webhooks(receiver, sock=down):
        message = settled(engine, "PO", worker)
    assert message.status == "delivered" and message.attempts >= 2
    assert [d.key for d in receiver.deliveries] == ["campaign:12:declared:PO"]


def test_the_same_key_twice_and_a_rolled_back_change(engine: Engine, worker: Worker) -> None:
    add_partner(engine, "PR", email="ops@r.example")
    with Session(engine) as session:
        session.begin()
        rolled_back = send_notice(session, "PR", "k-rolled-back")
        ids = [m.id for m in rolled_back]
        session.rollback()
    first = notify(engine, "PR", "k-twice")
    second = notify(engine, "PR", "k-twice")
    assert [m.id for m in second] == [m.id for m in first]

    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM outbox_message")) == 1
        jobs = conn.execute(
            text(
                "SELECT (args ->> 'message_id')::bigint FROM procrastinate_jobs"
                " WHERE task_name = :task AND (args ->> 'message_id')::bigint = ANY(:ids)"
            ),
            {"task": DELIVER_TASK, "ids": [*ids, first[0].id]},
        ).scalars()
        # Jobs for the committed message only (the sweep may add one while it is sent).
        assert set(jobs) == {first[0].id}


def test_a_partner_never_sees_what_a_receiver_answered(engine: Engine, worker: Worker) -> None:
    """The probe read 490 characters of an inside service's answer through GET /outbox;
    an answer's body is never read, and a redirect is an answer like any other."""
    receiver = WebhookReceiver(statuses=[302, 500], reply=b"root:x:0:0 SECRET-FROM-INSIDE")
    with serve_webhooks(receiver) as url:
        add_partner(engine, "PB2", webhook=(url, SECRET))
        notify(engine, "PB2", "campaign:12:declared:PB2")
        message = settled(engine, "PB2", worker)
    assert (message.status, message.attempts) == ("delivered", 3)
    assert len(receiver.deliveries) == 3  # the redirect was not followed elsewhere
    with Session(engine) as session, session.begin():
        partner = create_key(session, role="partner", partner_key="PB2")
    client = TestClient(create_app(sessionmaker(bind=engine)))
    response = client.get("/api/v1/outbox", headers={"X-API-Key": partner})
    assert response.json()["items"][0]["last_error"] == "the receiver answered HTTP 500"
    assert "SECRET-FROM-INSIDE" not in response.text
