"""What a delivered notice changes in a campaign: the effect the worker applies in the
delivery's own transaction (``recall/tasks.py`` hands it to ``notify``), so the recall
only ever shows as told what a partner was actually told.

- a notice that units are affected (the declaration, units added later): the partner's
  affected units become notified;
- a notice with a visit's date and arrival window (scheduled, or moved): the visit
  records when the partner was first told that date (``told_at``), unless the visit has
  moved on to another date since the notice was written.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.events import record_event
from devices.models import Partner
from recall.campaigns import notices
from recall.campaigns.lifecycle import move_units
from recall.models import Campaign, OutboxMessage, VisitRequest


def on_delivered(session: Session, message: OutboxMessage) -> int:
    """The delivered notice's effect; returns how many units or visits it changed."""
    if not (message.topic or "").startswith("campaign:"):
        return 0
    if message.kind in notices.AFFECTED_KINDS:
        return _partner_notified(session, message)
    if message.kind in notices.VISIT_DATE_KINDS:
        return _visit_told(session, message)
    return 0


def _partner_notified(session: Session, message: OutboxMessage) -> int:
    campaign = session.get(Campaign, int((message.topic or "").split(":", 1)[1]))
    partner_id = session.scalar(
        select(Partner.id).where(Partner.partner_key == message.partner_key)
    )
    if campaign is None or partner_id is None or campaign.status != "active":
        return 0
    return move_units(
        session,
        campaign=campaign,
        site_id=None,
        partner_id=partner_id,
        from_states=("affected",),
        to_state="notified",
        actor="notifier",
        reason=f"{message.channel} notice {message.idempotency_key} delivered",
    )


def _same_moment(stored: datetime | None, sent: str | None) -> bool:
    if stored is None or sent is None:
        return stored is None and sent is None
    return stored == datetime.fromisoformat(sent)


def _visit_told(session: Session, message: OutboxMessage) -> int:
    data = message.data or {}
    visit_id = data.get("visit_id")
    if not isinstance(visit_id, int):
        return 0
    visit = session.get(VisitRequest, visit_id, with_for_update=True)
    if visit is None or visit.status == "requested" or visit.told_at is not None:
        return 0
    told_this_date = (
        visit.scheduled_date is not None
        and data.get("scheduled_date") == visit.scheduled_date.isoformat()
        and _same_moment(visit.window_start, data.get("window_start"))
        and _same_moment(visit.window_end, data.get("window_end"))
    )
    if not told_this_date:
        return 0  # an older date: the notice of the current one is still to come
    visit.told_at = message.delivered_at
    record_event(
        session,
        actor="notifier",
        entity="visit_request",
        entity_key=str(visit.id),
        action="told",
        reason=f"{message.channel} notice {message.idempotency_key} delivered",
        data={"scheduled_date": data.get("scheduled_date"), "message_id": message.id},
    )
    return 1
