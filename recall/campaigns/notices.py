"""What partners are told, and when. Each notice is written to the outbox in the same
transaction as the change that causes it, with an idempotency key derived from that
change, so a retried request never tells a partner twice.

Texts say plainly what is known, what it means for the partner's sites and what happens
next: partners value being told early and honestly.
"""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.models import FailureReport, Partner, Site, Unit
from recall.models import Campaign, CampaignUnit, VisitRequest
from recall.notify.outbox import notify_partner

# Kinds whose delivery means the partner now knows its units are affected.
AFFECTED_KINDS = ("recall_declared", "units_added")


def topic(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def _sites_by_partner(
    session: Session, campaign: Campaign, campaign_unit_ids: list[int] | None = None
) -> dict[str, list[tuple[str, str, int]]]:
    stmt = (
        select(Partner.partner_key, Site.site_key, Site.name, func.count())
        .select_from(CampaignUnit)
        .join(Site, Site.id == CampaignUnit.site_id)
        .join(Partner, Partner.id == CampaignUnit.partner_id)
        .where(CampaignUnit.campaign_id == campaign.id)
        .group_by(Partner.partner_key, Site.site_key, Site.name)
        .order_by(Partner.partner_key, Site.site_key)
    )
    if campaign_unit_ids is not None:
        stmt = stmt.where(CampaignUnit.id.in_(campaign_unit_ids))
    out: dict[str, list[tuple[str, str, int]]] = {}
    for partner_key, site_key, name, units in session.execute(stmt):
        out.setdefault(partner_key, []).append((site_key, name, int(units)))
    return out


def _site_lines(sites: list[tuple[str, str, int]]) -> str:
    return "\n".join(f"  - {name} ({key}): {n} unit{'s' * (n != 1)}" for key, name, n in sites)


def recall_declared(session: Session, *, campaign: Campaign) -> None:
    """Tell every affected partner, right at declaration."""
    for partner_key, sites in _sites_by_partner(session, campaign).items():
        units = sum(n for _, _, n in sites)
        body = (
            f"We have declared a recall: {campaign.title}.\n\n"
            f"{units} unit{'s' * (units != 1)} at {len(sites)} of your sites "
            f"{'are' if units != 1 else 'is'} affected:\n{_site_lines(sites)}\n\n"
            f"What we will do: {campaign.remedy}\n"
            "A technician will visit each site. We will propose a date and an arrival window "
            "for each visit as soon as the route is planned; you can confirm it or ask for "
            "another date. Units that have not failed yet are affected too, so please keep "
            "them accessible.\n"
        )
        if campaign.deadline:
            body += f"We aim to finish every visit by {campaign.deadline.isoformat()}.\n"
        notify_partner(
            session,
            partner_key=partner_key,
            kind="recall_declared",
            subject=f"Recall: {campaign.title} ({units} of your units)",
            body=body,
            data={
                "campaign_id": campaign.id,
                "units": units,
                "sites": [{"site_key": k, "units": n} for k, _, n in sites],
            },
            idempotency_key=f"campaign:{campaign.id}:declared:{partner_key}",
            topic=topic(campaign.id),
        )


def units_added(session: Session, *, campaign: Campaign, campaign_unit_ids: list[int]) -> None:
    """Tell partners about units that joined the recall after its declaration."""
    digest = hashlib.sha256(",".join(map(str, sorted(campaign_unit_ids))).encode()).hexdigest()
    for partner_key, sites in _sites_by_partner(session, campaign, campaign_unit_ids).items():
        units = sum(n for _, _, n in sites)
        notify_partner(
            session,
            partner_key=partner_key,
            kind="units_added",
            subject=f"Recall {campaign.title}: {units} more of your units are affected",
            body=(
                f"Since we declared the recall {campaign.title}, {units} more of your units "
                f"were found to be affected:\n{_site_lines(sites)}\n\n"
                f"What we will do: {campaign.remedy}\n"
            ),
            data={
                "campaign_id": campaign.id,
                "units": units,
                "sites": [{"site_key": k, "units": n} for k, _, n in sites],
            },
            idempotency_key=f"campaign:{campaign.id}:added:{partner_key}:{digest[:16]}",
            topic=topic(campaign.id),
        )


def reschedule_received(session: Session, *, campaign: Campaign, visit: VisitRequest) -> None:
    """Acknowledge a partner's reschedule request, so it knows it was heard."""
    partner_key, site_key, site_name = session.execute(
        select(Partner.partner_key, Site.site_key, Site.name)
        .join(Site, Site.partner_id == Partner.id)
        .where(Site.id == visit.site_id)
    ).one()
    blocked = ", ".join(d.isoformat() for d in visit.blocked_dates) or "none"
    notify_partner(
        session,
        partner_key=partner_key,
        kind="reschedule_received",
        subject=f"Recall {campaign.title}: we will find another date for {site_name}",
        body=(
            f"We received your request for the visit at {site_name} ({site_key}).\n"
            f"Dates you blocked: {blocked}.\n"
            "We will plan the visit again around them and send you the new date.\n"
        ),
        data={"campaign_id": campaign.id, "visit_id": visit.id, "site_key": site_key},
        idempotency_key=(f"visit:{visit.id}:reschedule:{visit.updated_at.isoformat()}"),
        topic=topic(campaign.id),
    )


def failure_resolved(session: Session, *, report: FailureReport) -> None:
    """A report is never marked solved without its partner being told how."""
    partner_key, serial = session.execute(
        select(Partner.partner_key, Unit.serial)
        .join(Site, Site.partner_id == Partner.id)
        .join(Unit, Unit.site_id == Site.id)
        .where(Unit.id == report.unit_id)
    ).one()
    notify_partner(
        session,
        partner_key=partner_key,
        kind="failure_resolved",
        subject=f"Your failure report {report.report_key} (unit {serial}) is resolved",
        body=(
            f"Your report {report.report_key} about unit {serial} is resolved.\n\n"
            f"{report.resolution_note}\n"
        ),
        data={"report_key": report.report_key, "serial": serial},
        # By id: report keys are unique per reporter, not across reporters.
        idempotency_key=f"failure:{report.id}:resolved",
    )


OUTCOME_WORDS = {
    "fixed": "fixed",
    "unable_to_access": "not reachable (we could not access it)",
    "refused": "not fixed: the fix was declined on site",
    "not_found": "not found at the site",
}


def visit_done(
    session: Session, *, campaign: Campaign, visit: VisitRequest, outcomes: dict[str, int]
) -> None:
    """After a visit, tell the partner what happened to each unit, plainly."""
    partner_key, site_key, site_name = session.execute(
        select(Partner.partner_key, Site.site_key, Site.name)
        .join(Site, Site.partner_id == Partner.id)
        .where(Site.id == visit.site_id)
    ).one()
    units = session.execute(
        select(Unit.serial, CampaignUnit.state, CampaignUnit.note)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .where(CampaignUnit.campaign_id == campaign.id, CampaignUnit.site_id == visit.site_id)
        .order_by(Unit.serial)
    ).all()
    lines = "\n".join(
        f"  - {serial}: {OUTCOME_WORDS.get(state, state)}" + (f" ({note})" if note else "")
        for serial, state, note in units
    )
    fixed = outcomes.get("fixed", 0)
    follow_up = (
        ""
        if fixed == len(units)
        else "\nWe will contact you about the units that are not fixed yet.\n"
    )
    notify_partner(
        session,
        partner_key=partner_key,
        kind="visit_done",
        subject=f"Recall {campaign.title}: visit at {site_name} done, {fixed} of "
        f"{len(units)} units fixed",
        body=f"Our technician finished the visit at {site_name} ({site_key}).\n"
        f"{lines}\n{follow_up}",
        data={"campaign_id": campaign.id, "visit_id": visit.id, "outcomes": outcomes},
        idempotency_key=f"visit:{visit.id}:done",
        topic=topic(campaign.id),
    )


def _site_of(session: Session, visit: VisitRequest) -> tuple[str, str, str, str]:
    partner_key, site_key, site_name, tz = session.execute(
        select(Partner.partner_key, Site.site_key, Site.name, Site.timezone)
        .join(Site, Site.partner_id == Partner.id)
        .where(Site.id == visit.site_id)
    ).one()
    return partner_key, site_key, site_name, tz


def visit_window_text(visit: VisitRequest, tz: str) -> str:
    """'Tuesday 1 December 2026, between 10:00 and 12:00 (Europe/Helsinki time)'."""
    assert visit.scheduled_date is not None
    day = visit.scheduled_date
    text = f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"
    if visit.window_start is not None and visit.window_end is not None:
        zone = ZoneInfo(tz)
        start, end = visit.window_start.astimezone(zone), visit.window_end.astimezone(zone)
        text += f", between {start:%H:%M} and {end:%H:%M} ({tz} time)"
    return text


def visit_scheduled(
    session: Session, *, campaign: Campaign, visit: VisitRequest, plan_key: str, moved: bool
) -> None:
    """Tell the partner the date and arrival window of a visit: a new one, or a new date
    for a visit it already knew (``moved``)."""
    partner_key, site_key, site_name, tz = _site_of(session, visit)
    when = visit_window_text(visit, tz)
    if moved:
        subject = f"Recall {campaign.title}: new date for the visit at {site_name}"
        opening = f"We had to move the visit to {site_name} ({site_key}). The new date is {when}."
    else:
        subject = f"Recall {campaign.title}: visit at {site_name} on {visit.scheduled_date}"
        opening = f"A technician will visit {site_name} ({site_key}) on {when}."
    body = (
        f"{opening}\n\n"
        f"{visit.unit_count} affected unit{'s' * (visit.unit_count != 1)} will be fixed: "
        f"{campaign.remedy}\n"
        "Please confirm the date, or tell us which dates do not suit you and we will plan "
        "the visit again around them.\n"
    )
    notify_partner(
        session,
        partner_key=partner_key,
        kind="visit_moved" if moved else "visit_scheduled",
        subject=subject,
        body=body,
        data={
            "campaign_id": campaign.id,
            "visit_id": visit.id,
            "site_key": site_key,
            "scheduled_date": visit.scheduled_date,
            "window_start": visit.window_start,
            "window_end": visit.window_end,
            "timezone": tz,
        },
        idempotency_key=f"{plan_key}:visit:{visit.id}:scheduled",
        topic=topic(campaign.id),
    )


def visit_unscheduled(
    session: Session, *, campaign: Campaign, visit: VisitRequest, plan_key: str, was: str
) -> None:
    """A visit the new plan could not keep: say so, and that a new date will follow."""
    partner_key, site_key, site_name, _ = _site_of(session, visit)
    notify_partner(
        session,
        partner_key=partner_key,
        kind="visit_unscheduled",
        subject=f"Recall {campaign.title}: the visit at {site_name} is postponed",
        body=(
            f"We cannot keep the visit to {site_name} ({site_key}) planned for {was}.\n"
            "We are sorry. We will send you a new date as soon as we have one.\n"
        ),
        data={"campaign_id": campaign.id, "visit_id": visit.id, "site_key": site_key},
        idempotency_key=f"{plan_key}:visit:{visit.id}:unscheduled",
        topic=topic(campaign.id),
    )
