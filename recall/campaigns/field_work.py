"""Recall's side of field work, as service functions the route sheets and the technician
workflow in ``routing/`` call: what is to be done at a visit, and what was done.

Starting a visit puts its scheduled units in progress; an outcome per unit moves it on
(the same outcome twice is a no-op); finishing the visit needs an outcome for every unit
it started, marks the visit done and tells the partner what happened and what follows,
in the same transaction: units not reached or not found go back to notified with a
revisit request, until their visits reach FIELDRECALL_RECALL_MAX_VISITS_PER_UNIT; those,
and refused units, wait for the support lead's decision.

The work at a visit includes each unit's open failure reports, so the technician sees
what the partner reported (and who: the source of each report).

One outcome per unit and visit: the same outcome again is a no-op, a different one after
an outcome is a 409 that says what is recorded, when and by whom. Work a technician
recorded that cannot be applied (recorded offline, sent later) is kept for the support
lead as a ``field_conflict`` item of the inbox (``keep_conflict``), never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.events import Event, record_event
from core.settings import get_settings
from devices.models import FailureReport, Partner, Site, Unit
from recall.campaigns import visit_notices
from recall.campaigns.field_conflicts import keep_conflict as keep_conflict  # routing's face
from recall.campaigns.field_conflicts import what_is_recorded
from recall.campaigns.lifecycle import move_unit, move_units, unit_entity_key
from recall.campaigns.visits import sync_visits
from recall.models import OUTCOMES, REVISIT_OUTCOMES, Campaign, CampaignUnit, VisitRequest

# Failure reports the technician should see (resolved ones are history).
OPEN_REPORT_STATUSES = ("open", "triaged", "linked_to_recall")
# A visit's units are the campaign's units at its site.
_at_site_of_visit = (VisitRequest.campaign_id == CampaignUnit.campaign_id) & (
    VisitRequest.site_id == CampaignUnit.site_id
)


@dataclass(frozen=True)
class ReportNote:
    """A failure report on a unit, as the technician reads it on the sheet."""

    report_key: str
    occurred_at: datetime
    symptom: str | None
    status: str
    source: str | None  # who reported it: partner, technician, telemetry (None: not said)


@dataclass(frozen=True)
class UnitToFix:
    serial: str
    state: str
    note: str | None
    reports: tuple[ReportNote, ...] = ()
    # The unit's latest outcome at any visit (a revisit shows what happened last time; a
    # unit sent back to notified by a finished visit still shows its outcome there).
    last_outcome: str | None = None


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
    reports = _open_reports(session, visit_ids)
    outcomes = _last_outcomes(session, visit_ids)
    for campaign_id, site_id, unit_id, serial, state, note in session.execute(
        select(
            CampaignUnit.campaign_id,
            CampaignUnit.site_id,
            Unit.id,
            Unit.serial,
            CampaignUnit.state,
            CampaignUnit.note,
        )
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .join(VisitRequest, _at_site_of_visit)
        .where(VisitRequest.id.in_(visit_ids))
        .order_by(Unit.serial)
    ):
        units.setdefault((campaign_id, site_id), []).append(
            UnitToFix(
                serial,
                state,
                note,
                tuple(reports.get(unit_id, ())),
                outcomes.get(unit_entity_key(campaign_id, serial)),
            )
        )
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


def _open_reports(session: Session, visit_ids: list[int]) -> dict[int, list[ReportNote]]:
    """The unresolved failure reports of the units at these visits' sites, oldest first."""
    out: dict[int, list[ReportNote]] = {}
    for unit_id, key, occurred_at, symptom, status, source in session.execute(
        select(
            FailureReport.unit_id,
            FailureReport.report_key,
            FailureReport.occurred_at,
            FailureReport.symptom,
            FailureReport.status,
            FailureReport.source,
        )
        .join(CampaignUnit, CampaignUnit.unit_id == FailureReport.unit_id)
        .join(VisitRequest, _at_site_of_visit)
        .where(
            VisitRequest.id.in_(visit_ids),
            FailureReport.status.in_(OPEN_REPORT_STATUSES),
        )
        .distinct()
        .order_by(FailureReport.unit_id, FailureReport.occurred_at, FailureReport.report_key)
    ):
        out.setdefault(unit_id, []).append(ReportNote(key, occurred_at, symptom, status, source))
    return out


def _last_outcomes(session: Session, visit_ids: list[int]) -> dict[str, str]:
    """The latest outcome of each unit at these visits' sites, from the audit trail, by
    the unit's event key (``campaign:serial``)."""
    keys = (
        select(func.concat(CampaignUnit.campaign_id, ":", Unit.serial))
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .join(VisitRequest, _at_site_of_visit)
        .where(VisitRequest.id.in_(visit_ids))
    )
    rows = session.execute(
        select(Event.entity_key, Event.to_state)
        .where(
            Event.entity == "campaign_unit",
            Event.entity_key.in_(keys),
            Event.to_state.in_(OUTCOMES),
        )
        .order_by(Event.entity_key, Event.id.desc())
        .ext(distinct_on(Event.entity_key))
    )
    return {key: state for key, state in rows if state is not None}


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


class OutcomeRecorded(Conflict):
    """The unit already has another outcome (or the lead waived it)."""


def record_outcome(
    session: Session, *, visit_id: int, serial: str, outcome: str, note: str | None, actor: str
) -> bool:
    """One unit's outcome; False when it already had exactly this outcome."""
    if outcome not in OUTCOMES:
        raise Conflict(f"{outcome!r} is not an outcome (one of {', '.join(OUTCOMES)})")
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
    if campaign_unit.state in (*OUTCOMES, "waived") and campaign_unit.state != outcome:
        raise OutcomeRecorded(
            f"{what_is_recorded(session, campaign_unit, serial, visit)}; "
            f"a different outcome ({outcome}) is not recorded"
        )
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
    """Close the visit once every unit it started has an outcome, tell the partner what
    happened and what follows, and ask for a revisit for the units not reached or not
    found. Returns the count per state at the site; finishing a done (or cancelled)
    visit again changes nothing."""
    visit, campaign = _visit(session, visit_id)
    units = session.execute(
        select(CampaignUnit, Unit.serial)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .where(CampaignUnit.campaign_id == campaign.id, CampaignUnit.site_id == visit.site_id)
        .order_by(Unit.serial)
        .with_for_update(of=CampaignUnit)
    ).all()
    counts: dict[str, int] = {}
    for unit, _ in units:
        counts[unit.state] = counts.get(unit.state, 0) + 1
    if visit.status in ("done", "cancelled"):
        return counts
    open_units = [serial for unit, serial in units if unit.state in ("scheduled", "in_progress")]
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
    max_visits = get_settings().recall_max_visits_per_unit
    revisit = [
        (unit, serial)
        for unit, serial in units
        if unit.state in REVISIT_OUTCOMES and unit.visit_attempts < max_visits
    ]
    decision = [
        serial
        for unit, serial in units
        if unit.state == "refused"
        or (unit.state in REVISIT_OUTCOMES and unit.visit_attempts >= max_visits)
    ]
    steps = visit_notices.NextSteps(
        revisit=tuple(serial for _, serial in revisit),
        decision=tuple(decision),
        max_visits=max_visits,
    )
    visit_notices.visit_done(session, campaign=campaign, visit=visit, outcomes=counts, steps=steps)
    for unit, serial in revisit:
        move_unit(
            session,
            campaign=campaign,
            campaign_unit=unit,
            serial=serial,
            to_state="notified",
            actor=actor,
            reason=f"revisit: {unit.state} at visit {visit.id} "
            f"(visit {unit.visit_attempts} of at most {max_visits})",
        )
    sync_visits(session, campaign=campaign, actor=actor, site_ids=[visit.site_id])
    return counts


def visit_site_ids(session: Session, visit_ids: list[int]) -> frozenset[int]:
    """The sites of these visit requests (where a technician's stops take it)."""
    if not visit_ids:
        return frozenset()
    return frozenset(
        session.scalars(select(VisitRequest.site_id).where(VisitRequest.id.in_(visit_ids)))
    )
