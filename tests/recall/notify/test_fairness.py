"""One partner cannot stall the rest: a partner whose ten webhooks all hang holds back
only its own notices. A real worker, real receivers: another partner's email goes out
while every one of the slow partner's receivers is still hanging."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from recall.models import OutboxMessage, PartnerWebhook
from tests.recall.notify.harness import (
    WebhookReceiver,
    add_partner,
    delete_jobs,
    delete_test_rows,
    send_notice,
    serve_webhooks,
    smtp_server,
    start_worker,
    wait_for,
)

SLOW_HOOKS = 10
RESCHEDULES = 3


@pytest.fixture
def committed_rows(engine: Engine) -> Iterator[None]:
    yield
    delete_test_rows(engine)
    delete_jobs(engine)


def statuses(engine: Engine, partner_key: str) -> list[str]:
    with Session(engine) as session:
        return [
            m.status for m in session.query(OutboxMessage).filter_by(partner_key=partner_key).all()
        ]


def test_a_slow_partner_does_not_delay_another_partners_email(
    engine: Engine, committed_rows: None, tmp_path: Path
) -> None:
    slow = [WebhookReceiver(hang_all=True) for _ in range(SLOW_HOOKS)]
    with ExitStack() as stack, smtp_server() as (sink, smtp_port):
        urls = [stack.enter_context(serve_webhooks(r)) for r in slow]
        add_partner(engine, "PSLOW")
        add_partner(engine, "PFAST", email="ops@fast.example")
        with Session(engine) as session, session.begin():
            for url in urls:
                session.add(
                    PartnerWebhook(partner_key="PSLOW", url=url, secret="s" * 20, created_by="t")
                )
        # The slow partner's notices come first: a recall and three reschedules, each to
        # all ten webhooks (forty rows), then the other partner's email.
        with Session(engine) as session, session.begin():
            for n in range(1 + RESCHEDULES):
                send_notice(session, "PSLOW", f"visit:1:moved:{n}")
            send_notice(session, "PFAST", "campaign:12:declared:PFAST")
        worker = start_worker(
            engine,
            tmp_path / "worker.log",
            {
                "smtp_host": "127.0.0.1",
                "smtp_port": str(smtp_port),
                # Long enough that every slow attempt is still hanging at the end.
                "webhook_timeout_s": "120",
                "worker_poll_interval_s": "0.2",
            },
        )
        try:
            wait_for(
                "the other partner's email",
                lambda: statuses(engine, "PFAST") == ["delivered"],
                log=worker.log,
            )
            in_flight = sum(len(r.deliveries) for r in slow)
            # Every slow receiver still hangs: nothing of the slow partner is settled,
            # and it never had more than its two slots in flight.
            assert set(statuses(engine, "PSLOW")) == {"pending"}
            assert 1 <= in_flight <= 2
            assert [e.rcpt_tos for e in sink.envelopes] == [["ops@fast.example"]]
        finally:
            for receiver in slow:
                receiver.release.set()
            worker.stop()
