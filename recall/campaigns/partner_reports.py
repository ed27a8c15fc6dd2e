"""A partner's own failure reports with their timeline, as its portal lists them: when it
reported, when we acknowledged it (the notice delivered), then each step of the report's
life (triaged, linked to a recall, resolved with the note the partner is owed).

The steps come from the audit trail (the events that carry the report's id) and the
outbox (the partner's own notices about the report), so the page shows what happened,
not what should have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.events import Event
from devices.models import Batch, FailureReport, Partner, Site, Unit
from recall.models import Campaign, CampaignUnit, OutboxMessage

STATUS_WORDS = {
    "open": "received",
    "triaged": "being looked at",
    "linked_to_recall": "part of a recall",
    "resolved": "resolved",
}
# Notices that acknowledge a report: the first one delivered is the acknowledgement.
ACKNOWLEDGING = ("failure_received", "failure_linked")
MAX_LISTED = 200
# Steps of one instant (one transaction) in the order they happen.
ORDER = ("reported", "triaged", "linked_to_recall", "acknowledged", "resolved")


@dataclass(frozen=True)
class Step:
    at: datetime
    what: str  # reported, acknowledged, triaged, linked_to_recall, resolved
    words: str


@dataclass(frozen=True)
class ReportView:
    report_key: str
    serial: str
    site_name: str
    site_timezone: str
    occurred_at: datetime
    symptom: str | None
    status: str
    status_words: str
    resolution_note: str | None
    acknowledged: bool
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class UnitChoice:
    """A unit the partner may report on, as its form lists it."""

    serial: str
    model: str
    site_name: str
    site_timezone: str
    in_recall: bool  # covered by an active recall: a report is linked to it at once


def reportable_units(session: Session, *, partner_id: int) -> list[UnitChoice]:
    """The partner's units, by site, those under an active recall first in each site."""
    recalled = (
        select(CampaignUnit.id)
        .join(Campaign, Campaign.id == CampaignUnit.campaign_id)
        .where(CampaignUnit.unit_id == Unit.id, Campaign.status == "active")
        .exists()
    )
    rows = session.execute(
        select(Unit.serial, Batch.model, Site.name, Site.timezone, recalled)
        .join(Batch, Batch.id == Unit.batch_id)
        .join(Site, Site.id == Unit.site_id)
        .where(Site.partner_id == partner_id)
        .order_by(Site.name, recalled.desc(), Unit.serial)
    ).all()
    return [UnitChoice(*row) for row in rows]


def _step_words(event: Event) -> str:
    if event.to_state == "triaged":
        return "Our support team looked at it."
    if event.to_state == "linked_to_recall":
        return (
            f"It is part of a recall ({event.reason or 'a recall'}): the recall's visit "
            "fixes the unit."
        )
    return f"Resolved: {event.reason}" if event.reason else "Resolved."


def partner_reports(session: Session, *, partner_id: int) -> list[ReportView]:
    """The partner's own reports (sent by the partner, on its units), newest first."""
    rows = session.execute(
        select(FailureReport, Unit.serial, Site.name, Site.timezone, Partner.partner_key)
        .join(Unit, Unit.id == FailureReport.unit_id)
        .join(Site, Site.id == Unit.site_id)
        .join(Partner, Partner.id == Site.partner_id)
        .where(Site.partner_id == partner_id, FailureReport.source == "partner")
        .order_by(FailureReport.received_at.desc(), FailureReport.id.desc())
        .limit(MAX_LISTED)
    ).all()
    ids = [str(report.id) for report, *_ in rows]
    events: dict[str, list[Event]] = {}
    for event in session.scalars(
        select(Event)
        .where(
            Event.entity == "failure_report",
            Event.action == "status_changed",
            Event.data["report_id"].astext.in_(ids),
        )
        .order_by(Event.occurred_at, Event.id)
    ):
        assert event.data is not None
        events.setdefault(str(event.data["report_id"]), []).append(event)
    acknowledged: dict[str, datetime] = {}
    partner_keys = {key for *_, key in rows}
    for message in session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.partner_key.in_(partner_keys),
            OutboxMessage.kind.in_(ACKNOWLEDGING),
            OutboxMessage.status == "delivered",
            OutboxMessage.data["report_id"].astext.in_(ids),
        )
        .order_by(OutboxMessage.delivered_at)
    ):
        assert message.delivered_at is not None
        acknowledged.setdefault(str(message.data["report_id"]), message.delivered_at)
    out = []
    for report, serial, site_name, timezone, _ in rows:
        key = str(report.id)
        steps = [Step(report.received_at, "reported", "You reported it.")]
        if key in acknowledged:
            steps.append(
                Step(acknowledged[key], "acknowledged", "We confirmed we have it (a notice).")
            )
        steps += [
            Step(e.occurred_at, e.to_state or "", _step_words(e)) for e in events.get(key, [])
        ]
        out.append(
            ReportView(
                report_key=report.report_key,
                serial=serial,
                site_name=site_name,
                site_timezone=timezone,
                occurred_at=report.occurred_at,
                symptom=report.symptom,
                status=report.status,
                status_words=STATUS_WORDS[report.status],
                resolution_note=report.resolution_note,
                acknowledged=key in acknowledged,
                steps=tuple(sorted(steps, key=lambda s: (s.at, ORDER.index(s.what)))),
            )
        )
    return out
