"""The ledger tells the truth while the mail server is down, and catches up when it is
back: a real worker (`fieldrecall worker`) delivering to a real SMTP server (aiosmtpd) that
is not there at first. The data is committed (the worker has its own connections) and
emptied again by the ``committed`` fixture."""

from __future__ import annotations

from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from devices.importer import import_csv
from recall.campaigns import service as campaigns
from recall.campaigns.ledger import campaign_ledger
from recall.campaigns.schemas import CampaignIn, LedgerOut, Scope
from recall.models import OutboxMessage
from routing.plans import service as plans
from routing.plans.models import FieldPlan
from tests.recall.campaigns.fixtures import load_recall_registry
from tests.recall.notify.harness import SmtpSink, free_port, start_worker, wait_for
from tests.routing.plans.planner_world import plan_now

WORKER = {
    "smtp_host": "127.0.0.1",
    "smtp_from": "recall@fieldrecall.test",
    # Retry about every second, and never give up during the test.
    "notify_backoff_base_s": "0.5",
    "notify_backoff_max_s": "1",
    "notify_max_attempts": "1000",
    "notify_sweep_cron": "* * * * * *",
    "worker_poll_interval_s": "0.1",
}


def _published_campaign(engine: Engine) -> int:
    """The recall test registry, recall B1 declared, planned Mon-Fri and published."""
    with Session(engine) as session:
        load_recall_registry(session)
        import_csv(
            session,
            "technicians",
            b"technician_key,name,home_lat,home_lon,skills\nT2,Toni Tech,60.2,24.9,OU-200\n",
            filename="technicians.csv",
        )
        session.commit()
    spec = CampaignIn(
        title="OU-200 cold boot",
        scope=Scope(batch_keys=["B1"]),
        remedy="Replace the power board",
        required_skill="OU-200",
    )
    with transaction() as session:
        campaign_id = campaigns.declare(session, spec=spec, actor="lead").id
    with Session(engine) as session:
        plan_id = plan_now(session, sessionmaker(engine), campaign_id)
        assert session.get_one(FieldPlan, plan_id).status == "done"
        out = plans.publish(session, plan_id=plan_id, actor="lead")
        session.commit()
    assert len(out.new) == 3  # SA1, SB1, SA2; SA3 is out of reach
    return campaign_id


def _ledger(engine: Engine, campaign_id: int) -> LedgerOut:
    with Session(engine) as session:
        return campaign_ledger(session, campaign_id=campaign_id, partner_id=None)


def _failed_attempts(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).where(OutboxMessage.attempts > 0)) or 0)


def test_mail_down_shows_visits_not_told_and_the_promise_at_risk_until_it_is_back(
    committed: Engine, tmp_path: Path
) -> None:
    campaign_id = _published_campaign(committed)
    port = free_port()  # nothing listens there yet: the mail server is down
    log = tmp_path / "worker.log"
    worker = start_worker(committed, log, {**WORKER, "smtp_port": str(port)})
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    try:
        with Session(committed) as session:
            pending = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        wait_for(
            "every notice to fail at least once",
            lambda: _failed_attempts(committed) == pending,
            log=log,
        )
        down = _ledger(committed, campaign_id)
        assert (down.visits_scheduled_not_told, down.units_scheduled_not_told) == (3, 4)
        assert down.units.scheduled == 4  # planned, and honestly not told
        assert down.promise_at_risk == ["PA", "PB"]
        assert {(f.partner_key, f.reason) for f in down.follow_up} == {
            ("PA", "not_told"),
            ("PB", "not_told"),
        }
        assert sink.envelopes == []

        controller.start()  # the mail server is back
        up = wait_for(
            "the ledger to clear",
            lambda: (
                (led := _ledger(committed, campaign_id)).visits_scheduled_not_told == 0
                and not led.promise_at_risk
                and led
            ),
            deadline_s=90,
            log=log,
        )
        assert up.units_scheduled_not_told == 0 and up.not_notified_within_24h == []
        assert {line.partner_key: line.promise for line in up.partners} == {
            "PA": "kept",
            "PB": "kept",
        }
        assert all(f.reason != "not_told" for f in up.follow_up)
        assert {rcpt for e in sink.envelopes for rcpt in e.rcpt_tos} == {
            "ops@alpha.example",
            "ops@beta.example",
        }
    finally:
        worker.stop()
        if controller.loop.is_running():
            controller.stop()
