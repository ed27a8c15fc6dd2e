"""The unit lifecycle in a recall, and the failure-report lifecycle, enforced.

affected -> notified -> scheduled -> in_progress -> fixed | unable_to_access | refused |
not_found; scheduled may go back to notified when its visit is cancelled. Nothing is left
behind: unable_to_access and not_found go back to notified for a revisit, refused waits
for the support lead (back to notified, or waived), and any unit not fixed may be waived
with a reason (refused for good, decommissioned, replaced). Only fixed and waived are
final. A move to the state a unit is already in is a no-op, so a retried request does no
harm. Every real move is an append-only event (who, when, from, to, why).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.events import check_transition, record_event
from devices.models import FailureReport, Unit
from devices.service import report_id_for_key
from recall.campaigns import notices
from recall.inbox import service as inbox
from recall.models import (
    FINAL_UNIT_STATES,
    OUTCOMES,
    Campaign,
    CampaignFailureReport,
    CampaignUnit,
)

UNIT_TRANSITIONS: dict[str, frozenset[str]] = {
    "affected": frozenset({"notified", "waived"}),
    "notified": frozenset({"scheduled", "waived"}),
    "scheduled": frozenset({"in_progress", "notified", "waived"}),
    "in_progress": frozenset({*OUTCOMES, "waived"}),
    # A revisit, or the lead's decision; refused never comes back by itself.
    "unable_to_access": frozenset({"notified", "waived"}),
    "not_found": frozenset({"notified", "waived"}),
    "refused": frozenset({"notified", "waived"}),
    **{final: frozenset() for final in FINAL_UNIT_STATES},
}

FAILURE_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"triaged", "linked_to_recall", "resolved"}),
    "triaged": frozenset({"linked_to_recall", "resolved"}),
    "linked_to_recall": frozenset({"resolved"}),
    "resolved": frozenset(),
}


def unit_entity_key(campaign_id: int, serial: str) -> str:
    return f"{campaign_id}:{serial}"


def move_unit(
    session: Session,
    *,
    campaign: Campaign,
    campaign_unit: CampaignUnit,
    serial: str,
    to_state: str,
    actor: str,
    reason: str | None,
    note: str | None = None,
) -> bool:
    """Move one unit of a campaign; returns False when it already was in ``to_state``.
    Waiving needs a reason, and a closed campaign's units do not move."""
    current = campaign_unit.state
    if not check_transition(UNIT_TRANSITIONS, f"unit {serial}", current, to_state):
        return False
    if campaign.status != "active":
        raise Conflict(f"campaign {campaign.id} is {campaign.status}; its units do not move")
    if to_state == "waived":
        if not (reason and reason.strip()):
            raise InvalidInput(
                f"waiving unit {serial} needs a reason (refused for good, decommissioned, "
                "replaced by the partner, ...)"
            )
        note = reason
    campaign_unit.state = to_state
    campaign_unit.state_changed_at = datetime.now(UTC)
    if to_state in OUTCOMES:
        campaign_unit.visit_attempts += 1
    if note is not None:
        campaign_unit.note = note
    record_event(
        session,
        actor=actor,
        entity="campaign_unit",
        entity_key=unit_entity_key(campaign.id, serial),
        action="state_changed",
        from_state=current,
        to_state=to_state,
        reason=reason,
        data={"campaign_id": campaign.id},
    )
    if to_state == "fixed":
        _resolve_linked_reports(session, campaign, campaign_unit.unit_id, actor=actor, note=note)
    if to_state == "refused":
        inbox.unit_refused(
            session,
            campaign_id=campaign.id,
            partner_id=campaign_unit.partner_id,
            unit_id=campaign_unit.unit_id,
            serial=serial,
            note=note,
            actor=actor,
        )
    session.flush()
    return True


def move_units(
    session: Session,
    *,
    campaign: Campaign,
    site_id: int | None,
    partner_id: int | None,
    from_states: tuple[str, ...],
    to_state: str,
    actor: str,
    reason: str,
) -> int:
    """Move every unit of the campaign (at one site, or of one partner) that is in one of
    ``from_states``; each move checked and recorded. Returns how many moved."""
    stmt = (
        select(CampaignUnit, Unit.serial)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .where(CampaignUnit.campaign_id == campaign.id, CampaignUnit.state.in_(from_states))
        .order_by(Unit.serial)
        .with_for_update(of=CampaignUnit)
    )
    if site_id is not None:
        stmt = stmt.where(CampaignUnit.site_id == site_id)
    if partner_id is not None:
        stmt = stmt.where(CampaignUnit.partner_id == partner_id)
    moved = 0
    for campaign_unit, serial in session.execute(stmt).all():
        moved += move_unit(
            session,
            campaign=campaign,
            campaign_unit=campaign_unit,
            serial=serial,
            to_state=to_state,
            actor=actor,
            reason=reason,
        )
    return moved


def move_failure_report(
    session: Session,
    *,
    report: FailureReport,
    to_state: str,
    actor: str,
    note: str | None,
    campaign_id: int | None = None,
) -> bool:
    """Move a failure report along open -> triaged -> linked_to_recall -> resolved.
    Resolving needs a note (the reporting partner sees it); linking needs a campaign that
    covers the report's unit. Returns False for a no-op."""
    what = f"failure report {report.report_key}"
    if not check_transition(FAILURE_TRANSITIONS, what, report.status, to_state):
        return False
    if to_state == "resolved" and not (note and note.strip()):
        raise InvalidInput(f"resolving {what} needs a resolution note for the partner")
    if to_state == "linked_to_recall":
        if campaign_id is None:
            raise InvalidInput(f"linking {what} needs a campaign_id")
        covered = session.scalar(
            select(CampaignUnit.id).where(
                CampaignUnit.campaign_id == campaign_id, CampaignUnit.unit_id == report.unit_id
            )
        )
        if covered is None:
            raise Conflict(f"campaign {campaign_id} does not cover the unit of {what}")
        session.merge(CampaignFailureReport(failure_report_id=report.id, campaign_id=campaign_id))
    previous = report.status
    report.status = to_state
    if to_state == "resolved":
        report.resolution_note = note
        notices.failure_resolved(session, report=report)
    if to_state == "linked_to_recall":
        # The reporter hears at once that the report is covered, and what happens next.
        notices.failure_linked(
            session, report=report, campaign=session.get_one(Campaign, campaign_id)
        )
    record_event(
        session,
        actor=actor,
        entity="failure_report",
        entity_key=report.report_key,
        action="status_changed",
        from_state=previous,
        to_state=to_state,
        reason=note,
        data={"campaign_id": campaign_id} if campaign_id is not None else None,
    )
    session.flush()
    return True


def change_failure_status(
    session: Session,
    *,
    report_key: str,
    to_state: str,
    actor: str,
    note: str | None,
    campaign_id: int | None,
    reporter: str | None = None,
) -> bool:
    """Move the failure report with this key (locked); 404 for an unknown key. Keys are
    unique per reporter: ``reporter`` picks one when a key names several
    (devices.service.report_id_for_key)."""
    report_id = report_id_for_key(session, report_key, partner_id=None, reporter=reporter)
    report = session.get_one(FailureReport, report_id, with_for_update=True)
    return move_failure_report(
        session,
        report=report,
        to_state=to_state,
        actor=actor,
        note=note,
        campaign_id=campaign_id,
    )


def _resolve_linked_reports(
    session: Session, campaign: Campaign, unit_id: int, *, actor: str, note: str | None
) -> None:
    """A fixed unit closes the reports linked to this recall, telling the partner how."""
    reports = session.scalars(
        select(FailureReport)
        .join(CampaignFailureReport, CampaignFailureReport.failure_report_id == FailureReport.id)
        .where(
            FailureReport.unit_id == unit_id,
            CampaignFailureReport.campaign_id == campaign.id,
            FailureReport.status == "linked_to_recall",
        )
    ).all()
    resolution = f"Fixed during recall {campaign.id} ({campaign.title}): {campaign.remedy}"
    if note:
        resolution += f" Technician's note: {note}"
    for report in reports:
        move_failure_report(
            session, report=report, to_state="resolved", actor=actor, note=resolution
        )


def get_campaign_unit(
    session: Session, *, campaign_id: int, serial: str, partner_id: int | None, lock: bool = True
) -> tuple[CampaignUnit, str]:
    """A unit of a campaign (locked for a change); 404 outside the caller's partner scope."""
    stmt = (
        select(CampaignUnit, Unit.serial)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .where(CampaignUnit.campaign_id == campaign_id, Unit.serial == serial)
    )
    if lock:
        stmt = stmt.with_for_update(of=CampaignUnit)
    if partner_id is not None:
        stmt = stmt.where(CampaignUnit.partner_id == partner_id)
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"no unit {serial!r} in campaign {campaign_id}")
    return row[0], row[1]
