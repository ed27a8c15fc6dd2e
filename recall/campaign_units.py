"""Reads of a campaign's units: state, where they are, and each unit's history."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.events import Event
from devices.models import Batch, Partner, Site, Unit
from devices.repository import PageRequest, paginate
from recall.campaign_models import CampaignUnit
from recall.campaign_schemas import CampaignUnitOut, UnitEventOut
from recall.lifecycle import get_campaign_unit, unit_entity_key


def _units(campaign_id: int) -> Select:
    return (
        select(
            Unit.serial,
            Batch.batch_key,
            Site.site_key,
            Partner.partner_key,
            CampaignUnit.state,
            CampaignUnit.state_changed_at,
            CampaignUnit.note,
            CampaignUnit.added_by,
        )
        .select_from(CampaignUnit)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .join(Batch, Batch.id == Unit.batch_id)
        .join(Site, Site.id == CampaignUnit.site_id)
        .join(Partner, Partner.id == CampaignUnit.partner_id)
        .where(CampaignUnit.campaign_id == campaign_id)
    )


def list_units(
    session: Session,
    *,
    campaign_id: int,
    partner_id: int | None,
    page: PageRequest,
    state: str | None = None,
    site_key: str | None = None,
) -> tuple[list[CampaignUnitOut], int]:
    stmt = _units(campaign_id)
    if partner_id is not None:
        stmt = stmt.where(CampaignUnit.partner_id == partner_id)
    if state is not None:
        stmt = stmt.where(CampaignUnit.state == state)
    if site_key is not None:
        stmt = stmt.where(Site.site_key == site_key)
    rows, total = paginate(session, stmt.order_by(Unit.serial), page)
    return [CampaignUnitOut(**row._mapping) for row in rows], total


def unit_with_history(
    session: Session, *, campaign_id: int, serial: str, partner_id: int | None
) -> CampaignUnitOut:
    """One unit's state and every event of its life in the campaign, oldest first."""
    get_campaign_unit(
        session, campaign_id=campaign_id, serial=serial, partner_id=partner_id, lock=False
    )
    row = session.execute(_units(campaign_id).where(Unit.serial == serial)).one()
    events = session.scalars(
        select(Event)
        .where(
            Event.entity == "campaign_unit",
            Event.entity_key == unit_entity_key(campaign_id, serial),
        )
        .order_by(Event.occurred_at, Event.id)
    )
    history = [UnitEventOut.model_validate(e, from_attributes=True) for e in events]
    return CampaignUnitOut(**row._mapping, history=history)
