"""What a unit's recorded outcome is, as a person reads it (when, by whom, with what
note), and work a technician recorded that could not be applied, kept for the support
lead as an inbox item of kind ``field_conflict``. Routing reaches these through
``field_work``.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.events import Event
from core.links import SecretLink
from core.security import ApiKey
from devices.models import Site, Technician, Unit
from recall.campaigns.lifecycle import unit_entity_key
from recall.inbox import service as inbox
from recall.models import FINAL_UNIT_STATES, CampaignUnit, VisitRequest


def actor_name(session: Session, actor: str) -> str:
    """Who an event's actor (``technician:key7``, ``technician:link3``, ``support_lead:key1``)
    is, as a person reads it: a technician's name, or the role."""
    role, _, source = actor.partition(":")
    technician_id = None
    if source.startswith("key") and source[3:].isdigit():
        key = session.get(ApiKey, int(source[3:]))
        technician_id = key.technician_id if key else None
    elif source.startswith("link") and source[4:].isdigit():
        link = session.get(SecretLink, int(source[4:]))
        technician_id = link.technician_id if link else None
    if technician_id is not None:
        return session.get_one(Technician, technician_id).name
    return {"support_lead": "the support lead", "partner": "the partner"}.get(role, actor)


def what_is_recorded(
    session: Session, campaign_unit: CampaignUnit, serial: str, visit: VisitRequest
) -> str:
    """``unit UA1 has the final outcome fixed, recorded 09:12 on 2026-12-03
    (Europe/Helsinki) by Tea Tech: board swapped``, from the unit's latest move (the audit
    trail)."""
    state = campaign_unit.state
    event = session.scalars(
        select(Event)
        .where(
            Event.entity == "campaign_unit",
            Event.entity_key == unit_entity_key(campaign_unit.campaign_id, serial),
            Event.to_state == state,
        )
        .order_by(Event.id.desc())
        .limit(1)
    ).first()
    if state == "waived":
        kind = "is waived by the support lead"
    else:
        kind = f"has the {'final ' if state in FINAL_UNIT_STATES else ''}outcome {state}"
    text = f"unit {serial} {kind}"
    if event is not None:
        zone = session.get_one(Site, visit.site_id).timezone
        when = event.occurred_at.astimezone(ZoneInfo(zone))
        text += f", recorded {when:%H:%M} on {when:%Y-%m-%d} ({zone})"
        text += f" by {actor_name(session, event.actor)}"
    if campaign_unit.note:
        text += f": {campaign_unit.note}"
    return text


def keep_conflict(
    session: Session,
    *,
    visit_id: int,
    serial: str | None,
    technician_id: int,
    summary: str,
    data: dict[str, Any],
    actor: str,
) -> int:
    """Keep work a technician recorded that could not be applied for the support lead (an
    inbox item of kind ``field_conflict``); returns the item's id."""
    visit = session.get(VisitRequest, visit_id)
    if visit is None:
        raise NotFound(f"no visit {visit_id}")
    unit_id = None
    if serial is not None:
        unit_id = session.scalar(select(Unit.id).where(Unit.serial == serial))
    technician = session.get_one(Technician, technician_id)
    return inbox.field_conflict(
        session,
        visit=visit,
        unit_id=unit_id,
        summary=f"{technician.name} ({technician.technician_key}): {summary}",
        data={"technician_key": technician.technician_key, **data},
        actor=actor,
    )
