"""What a delivered notice changes: once a partner has received the notice that its units
are affected by a recall, those units become ``notified``. Runs in the delivery's own
transaction, so the state and the delivery record commit together."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.models import Partner
from recall.campaign_models import Campaign
from recall.lifecycle import move_units
from recall.notices import AFFECTED_KINDS
from recall.outbox_models import OutboxMessage


def on_delivered(session: Session, message: OutboxMessage) -> int:
    """Apply a delivered notice's effect; returns how many units moved."""
    if message.kind not in AFFECTED_KINDS or not (message.topic or "").startswith("campaign:"):
        return 0
    campaign = session.get(Campaign, int((message.topic or "").split(":", 1)[1]))
    partner_id = session.scalar(
        select(Partner.id).where(Partner.partner_key == message.partner_key)
    )
    if campaign is None or partner_id is None:
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
