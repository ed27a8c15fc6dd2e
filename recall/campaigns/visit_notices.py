"""What partners are told about their visits: the date and arrival window (new, moved,
postponed, no longer needed), a reschedule request heard, and what happened at a visit
with what follows for each unit not fixed. Each notice goes through the outbox in the
transaction of the change, keyed so that a retry never tells a partner twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.models import Partner, Site, Unit
from recall.campaigns.notices import topic
from recall.models import Campaign, CampaignUnit, VisitRequest
from recall.notify.outbox import notify_partner


def reschedule_received(session: Session, *, campaign: Campaign, visit: VisitRequest) -> None:
    """Acknowledge a partner's reschedule request, so it knows it was heard."""
    partner_key, site_key, site_name, _ = _site_of(session, visit)
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


OUTCOME_WORDS = {
    "fixed": "fixed",
    "unable_to_access": "not reachable (we could not access it)",
    "refused": "not fixed: the fix was declined on site",
    "not_found": "not found at the site",
    "waived": "no fix needed any more",
    "in_progress": "being fixed",
}
NOT_YET = "still to be fixed at a later visit"


@dataclass(frozen=True)
class NextSteps:
    """What follows a visit for the units it did not fix."""

    revisit: tuple[str, ...] = ()  # serials a revisit was asked for
    decision: tuple[str, ...] = ()  # serials waiting for the support lead
    max_visits: int = 0


def _next_steps_text(steps: NextSteps) -> str:
    text = ""
    if steps.revisit:
        n = len(steps.revisit)
        text += (
            f"\nWe will come back for {n} unit{'s' * (n != 1)} ({', '.join(steps.revisit)}): "
            "we have asked for another visit and will send you its date and arrival window.\n"
        )
    if steps.decision:
        n = len(steps.decision)
        text += (
            f"\nOur support lead will contact you about {n} unit{'s' * (n != 1)} "
            f"({', '.join(steps.decision)}) to agree what happens next: the fix was declined, "
            f"or we could not reach the unit in {steps.max_visits} visits.\n"
        )
    return text


def visit_done(
    session: Session,
    *,
    campaign: Campaign,
    visit: VisitRequest,
    outcomes: dict[str, int],
    steps: NextSteps,
) -> None:
    """After a visit, tell the partner what happened to each unit, and what happens next
    for the units not fixed, plainly."""
    partner_key, site_key, site_name, _ = _site_of(session, visit)
    units = session.execute(
        select(Unit.serial, CampaignUnit.state, CampaignUnit.note)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .where(CampaignUnit.campaign_id == campaign.id, CampaignUnit.site_id == visit.site_id)
        .order_by(Unit.serial)
    ).all()
    lines = "\n".join(
        f"  - {serial}: {OUTCOME_WORDS.get(state, NOT_YET)}" + (f" ({note})" if note else "")
        for serial, state, note in units
    )
    fixed = sum(1 for _, state, _ in units if state == "fixed")
    notify_partner(
        session,
        partner_key=partner_key,
        kind="visit_done",
        subject=f"Recall {campaign.title}: visit at {site_name} done, {fixed} of "
        f"{len(units)} units fixed",
        body=f"Our technician finished the visit at {site_name} ({site_key}).\n"
        f"{lines}\n{_next_steps_text(steps)}",
        data={
            "campaign_id": campaign.id,
            "visit_id": visit.id,
            "outcomes": outcomes,
            "revisit": list(steps.revisit),
            "decision": list(steps.decision),
        },
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


def visit_cancelled(session: Session, *, campaign: Campaign, visit: VisitRequest) -> None:
    """A scheduled visit with nothing left to do (every unit fixed or waived)."""
    partner_key, site_key, site_name, tz = _site_of(session, visit)
    notify_partner(
        session,
        partner_key=partner_key,
        kind="visit_cancelled",
        subject=f"Recall {campaign.title}: no visit needed at {site_name}",
        body=(
            f"The visit to {site_name} ({site_key}) planned for "
            f"{visit_window_text(visit, tz)} is no longer needed: every affected unit there "
            "is fixed or needs no fix. We will not come.\n"
        ),
        data={"campaign_id": campaign.id, "visit_id": visit.id, "site_key": site_key},
        idempotency_key=f"visit:{visit.id}:cancelled",
        topic=topic(campaign.id),
    )
