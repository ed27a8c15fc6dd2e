"""Recall's side of field work, as service functions the route sheets and the technician
workflow in ``routing/`` call: what is to be done at a visit, and what was done.

Starting a visit puts its scheduled units in progress; an outcome per unit moves it to a
final state (the same outcome twice is a no-op); finishing the visit needs an outcome for
every unit, marks the visit done and tells the partner what happened, in the same
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.events import record_event
from devices.models import Partner, Site, Unit
from recall.campaigns import notices
from recall.campaigns.lifecycle import move_unit, move_units
from recall.models import FINAL_UNIT_STATES, Campaign, CampaignUnit, VisitRequest


@dataclass(frozen=True)
class UnitToFix:
    serial: str
    state: str
    note: str | None


@dataclass(frozen=True)
class VisitWork:
    """Everything a technician needs to know at one visit."""

    visit_id: int
    campaign_id: int
    campaign_title: str
    remedy: str
    site_key: str
    site_name: str
    address: str | None
    lat: float
    lon: float
    timezone: str
    opening_hours: str | None
    partner_key: str
    partner_name: str
    contact_email: str | None
    contact_phone: str | None
    access_notes: str | None
    status: str
    units: tuple[UnitToFix, ...]


def visit_work(session: Session, visit_ids: list[int]) -> dict[int, VisitWork]:
    """The work at each visit: site, partner contact, remedy and the serials to fix."""
    if not visit_ids:
        return {}
    rows = session.execute(
        select(VisitRequest, Campaign, Site, Partner)
        .join(Campaign, Campaign.id == VisitRequest.campaign_id)
        .join(Site, Site.id == VisitRequest.site_id)
        .join(Partner, Partner.id == VisitRequest.partner_id)
        .where(VisitRequest.id.in_(visit_ids))
    ).all()
    units: dict[tuple[int, int], list[UnitToFix]] = {}
    for campaign_id, site_id, serial, state, note in session.execute(
        select(
            CampaignUnit.campaign_id,
            CampaignUnit.site_id,
            Unit.serial,
            CampaignUnit.state,
            CampaignUnit.note,
        )
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .join(
            VisitRequest,
            (VisitRequest.campaign_id == CampaignUnit.campaign_id)
            & (VisitRequest.site_id == CampaignUnit.site_id),
        )
        .where(VisitRequest.id.in_(visit_ids))
        .order_by(Unit.serial)
    ):
        units.setdefault((campaign_id, site_id), []).append(UnitToFix(serial, state, note))
    return {
        visit.id: VisitWork(
            visit_id=visit.id,
            campaign_id=campaign.id,
            campaign_title=campaign.title,
            remedy=campaign.remedy,
            site_key=site.site_key,
            site_name=site.name,
            address=site.address,
            lat=site.lat,
            lon=site.lon,
            timezone=site.timezone,
            opening_hours=site.opening_hours,
            partner_key=partner.partner_key,
            partner_name=partner.name,
            contact_email=partner.contact_email,
            contact_phone=partner.contact_phone,
            access_notes=visit.partner_note,
            status=visit.status,
            units=tuple(units.get((campaign.id, site.id), ())),
        )
        for visit, campaign, site, partner in rows
    }


def _visit(session: Session, visit_id: int) -> tuple[VisitRequest, Campaign]:
    visit = session.get(VisitRequest, visit_id, with_for_update=True)
    if visit is None:
        raise NotFound(f"no visit {visit_id}")
    return visit, session.get_one(Campaign, visit.campaign_id)


def start_visit(session: Session, *, visit_id: int, actor: str) -> int:
    """The technician is on site: scheduled units go in progress. Returns how many moved;
    starting again moves nothing."""
    visit, campaign = _visit(session, visit_id)
    if visit.status != "scheduled":
        raise Conflict(f"visit {visit_id} is {visit.status}; only a scheduled visit can start")
    return move_units(
        session,
        campaign=campaign,
        site_id=visit.site_id,
        partner_id=None,
        from_states=("scheduled",),
        to_state="in_progress",
        actor=actor,
        reason=f"technician on site (visit {visit_id})",
    )


def record_outcome(
    session: Session, *, visit_id: int, serial: str, outcome: str, note: str | None, actor: str
) -> bool:
    """One unit's outcome; False when it already had exactly this outcome."""
    if outcome not in FINAL_UNIT_STATES:
        raise Conflict(f"{outcome!r} is not an outcome (one of {', '.join(FINAL_UNIT_STATES)})")
    visit, campaign = _visit(session, visit_id)
    row = session.execute(
        select(CampaignUnit, Unit.serial)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .where(
            CampaignUnit.campaign_id == campaign.id,
            CampaignUnit.site_id == visit.site_id,
            Unit.serial == serial,
        )
        .with_for_update(of=CampaignUnit)
    ).first()
    if row is None:
        raise NotFound(f"unit {serial!r} is not to be fixed at visit {visit_id}")
    campaign_unit, serial = row
    return move_unit(
        session,
        campaign=campaign,
        campaign_unit=campaign_unit,
        serial=serial,
        to_state=outcome,
        actor=actor,
        reason=note or f"outcome recorded at visit {visit_id}",
        note=note,
    )


def finish_visit(session: Session, *, visit_id: int, actor: str) -> dict[str, int]:
    """Close the visit once every unit has an outcome, and tell the partner what happened.
    Returns the count per outcome; finishing a done visit again changes nothing."""
    visit, campaign = _visit(session, visit_id)
    states = session.execute(
        select(Unit.serial, CampaignUnit.state)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .where(CampaignUnit.campaign_id == campaign.id, CampaignUnit.site_id == visit.site_id)
        .order_by(Unit.serial)
    ).all()
    open_units = [serial for serial, state in states if state not in FINAL_UNIT_STATES]
    counts: dict[str, int] = {}
    for _, state in states:
        counts[state] = counts.get(state, 0) + 1
    if visit.status == "done":
        return counts
    if open_units:
        raise Conflict(
            f"visit {visit_id} cannot finish: no outcome yet for {', '.join(open_units)}"
        )
    previous, visit.status = visit.status, "done"
    record_event(
        session,
        actor=actor,
        entity="visit_request",
        entity_key=str(visit.id),
        action="finished",
        from_state=previous,
        to_state="done",
        data=counts,
    )
    session.flush()
    notices.visit_done(session, campaign=campaign, visit=visit, outcomes=counts)
    return counts


def visit_site_ids(session: Session, visit_ids: list[int]) -> frozenset[int]:
    """The sites of these visit requests (where a technician's stops take it)."""
    if not visit_ids:
        return frozenset()
    return frozenset(
        session.scalars(select(VisitRequest.site_id).where(VisitRequest.id.in_(visit_ids)))
    )
