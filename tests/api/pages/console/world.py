"""A small world for the console's page tests, on the recall test registry: a signal on
batch B1, the recall of B1 declared from it (notices written, one made a dead letter),
a solved plan of that recall written by hand (not yet published) with its route, and
partner PA's confirmation of its visit in the lead's inbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.models import Batch, Partner
from recall.campaigns import service as campaigns
from recall.campaigns import visits
from recall.campaigns.schemas import CampaignIn, Scope
from recall.inbox.models import InboxItem
from recall.models import DetectionResult, DetectionRun, OutboxMessage, Signal
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import load_recall_registry
from tests.routing.plans.fixtures import publish_by_hand

RESULT = {
    "batch_key": "B1",
    "flagged": True,
    "variable": "temp_min_c",
    "direction": "below",
    "threshold_c": -8.0,
    "failures_below": 2,
    "failures_above": 0,
    "unit_days_below": 30.0,
    "unit_days_above": 900.0,
    "expected_below": 0.2,
    "rate_ratio": None,
    "rate_ratio_ci": [4.1, None],
    "p_value": 0.004,
    "q_value": 0.01,
    "sites_with_failures_below": 2,
    "failed_fraction": 0.4,
    "iceberg": {
        "units_not_failed": 3,
        "sites": 3,
        "partners": 1,
        "units_beyond_threshold_now": 1,
    },
}


@dataclass(frozen=True)
class World:
    keys: Keys
    signal: int  # answered by the recall
    open_signal: int  # on batch B2, new
    campaign: int
    plan: int
    route: int
    message: int  # a dead letter
    report: str  # a failure report linked to the recall
    inbox_item: int  # partner PA confirmed its visit to SA1 (unread)

    def fill(self, text: str) -> str:
        """``text`` with its ``{signal_id}``, ``{campaign_id}``, ... filled in."""
        for name, value in (
            ("signal_id", self.signal),
            ("open_signal_id", self.open_signal),
            ("campaign_id", self.campaign),
            ("plan_id", self.plan),
            ("route_id", self.route),
            ("message_id", self.message),
            ("report_key", self.report),
            ("item_id", self.inbox_item),
        ):
            text = text.replace("{" + name + "}", str(value))
        return text


def raise_signal(session: Session, batch_key: str = "B1", result: dict | None = None) -> int:
    """A detection run that flagged the batch, and its signal (status new)."""
    batch_id = session.scalars(select(Batch.id).where(Batch.batch_key == batch_key)).one()
    run = DetectionRun(
        status="done",
        as_of=date(2025, 11, 5),
        variable="temp_min_c",
        direction="below",
        parameters={"max_station_km": 50.0},
        created_by="test",
    )
    session.add(run)
    session.flush()
    row = DetectionResult(
        run_id=run.id,
        batch_id=batch_id,
        flagged=True,
        threshold_c=-8.0,
        result=result or {**RESULT, "batch_key": batch_key},
    )
    session.add(row)
    session.flush()
    signal = Signal(
        batch_id=batch_id,
        variable="temp_min_c",
        direction="below",
        first_run_id=run.id,
        latest_result_id=row.id,
        status_changed_by="test",
    )
    session.add(signal)
    session.flush()
    return signal.id


def make_world(session: Session) -> World:
    keys = load_recall_registry(session)
    signal = raise_signal(session)
    open_signal = raise_signal(session, "B2")
    campaign = campaigns.declare(
        session,
        spec=CampaignIn(
            title="OU-200 cold boot",
            scope=Scope(batch_keys=["B1"]),
            remedy="Replace the power board",
            required_skill="OU-200",
            signal_id=signal,
        ),
        actor="test",
    )
    dead = session.scalars(
        select(OutboxMessage).where(OutboxMessage.partner_key == "PB").order_by(OutboxMessage.id)
    ).first()
    assert dead is not None
    dead.status, dead.attempts, dead.last_error = "dead", 8, "550 mailbox unavailable"
    session.commit()
    plan = publish_by_hand(session, campaign.id, published=False)
    pa = session.scalars(select(Partner.id).where(Partner.partner_key == "PA")).one()
    visits.confirm(session, visit_id=plan.visits["SA1"], partner_id=pa, actor="partner:PA")
    item = session.scalars(select(InboxItem.id).order_by(InboxItem.id.desc())).first()
    assert item is not None
    session.commit()
    return World(
        keys=keys,
        signal=signal,
        open_signal=open_signal,
        campaign=campaign.id,
        plan=plan.plan_id,
        route=plan.route_id,
        message=dead.id,
        report="RA1",
        inbox_item=item,
    )
