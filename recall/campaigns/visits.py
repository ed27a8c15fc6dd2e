"""Visit requests as partners see and steer them: status, confirmation, rescheduling;
and keeping the requests in step with the units (revisits opened, needless visits
cancelled).

The planner reads ``blocked_dates`` and ``preferred_windows`` and must respect them; a
request that conflicts with the visit's current date sends the visit back to
``requested`` (its units back to ``notified``) so that the next plan moves it. A
partner's confirmation or reschedule request lands in the support lead's inbox. Each
partner also has an iCalendar feed of its scheduled visits, behind its secret link.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.events import record_event
from core.links import link_for_token
from devices.models import Partner, Site
from recall.campaigns import visit_notices
from recall.campaigns.lifecycle import move_units
from recall.campaigns.repository import VisitChanges, refresh_visit_requests
from recall.campaigns.schemas import RescheduleIn, VisitOut
from recall.inbox import service as inbox
from recall.models import (
    FINAL_UNIT_STATES,
    OPEN_VISIT_STATUSES,
    Campaign,
    CampaignUnit,
    VisitRequest,
)


def _visits() -> Select:
    return (
        select(VisitRequest, Site.site_key, Site.name, Site.timezone, Partner.partner_key)
        .join(Site, Site.id == VisitRequest.site_id)
        .join(Partner, Partner.id == VisitRequest.partner_id)
    )


def _out(
    visit: VisitRequest, site_key: str, site_name: str, site_timezone: str, partner_key: str
) -> VisitOut:
    return VisitOut(
        id=visit.id,
        campaign_id=visit.campaign_id,
        site_key=site_key,
        site_name=site_name,
        site_timezone=site_timezone,
        partner_key=partner_key,
        status=visit.status,
        attempt=visit.attempt,
        unit_count=visit.unit_count,
        estimated_minutes=visit.estimated_minutes,
        priority_rank=visit.priority_rank,
        recent_min_temp_c=visit.recent_min_temp_c,
        scheduled_date=visit.scheduled_date,
        window_start=visit.window_start,
        window_end=visit.window_end,
        partner_confirmed_at=visit.partner_confirmed_at,
        told_at=visit.told_at,
        blocked_dates=list(visit.blocked_dates),
        preferred_windows=list(visit.preferred_windows),
        partner_note=visit.partner_note,
    )


def list_visits(
    session: Session, *, campaign_id: int, partner_id: int | None, status: str | None = None
) -> list[VisitOut]:
    stmt = _visits().where(VisitRequest.campaign_id == campaign_id)
    if partner_id is not None:
        stmt = stmt.where(VisitRequest.partner_id == partner_id)
    if status is not None:
        stmt = stmt.where(VisitRequest.status == status)
    stmt = stmt.order_by(VisitRequest.priority_rank, Site.site_key)
    return [_out(*row) for row in session.execute(stmt).all()]


def _locked_visit(session: Session, visit_id: int, partner_id: int | None) -> VisitRequest:
    stmt = select(VisitRequest).where(VisitRequest.id == visit_id).with_for_update()
    if partner_id is not None:
        stmt = stmt.where(VisitRequest.partner_id == partner_id)
    visit = session.scalar(stmt)
    if visit is None:
        raise NotFound(f"no visit {visit_id}")
    return visit


def get_visit(session: Session, *, visit_id: int, partner_id: int | None) -> VisitOut:
    stmt = _visits().where(VisitRequest.id == visit_id)
    if partner_id is not None:
        stmt = stmt.where(VisitRequest.partner_id == partner_id)
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"no visit {visit_id}")
    return _out(*row)


def confirm(session: Session, *, visit_id: int, partner_id: int | None, actor: str) -> VisitOut:
    """The partner accepts the proposed date; a confirmed visit stays frozen in re-plans.
    Confirming twice is harmless."""
    visit = _locked_visit(session, visit_id, partner_id)
    if visit.status != "scheduled":
        raise Conflict(
            f"visit {visit_id} is {visit.status}; only a scheduled visit can be confirmed"
        )
    if visit.partner_confirmed_at is None:
        visit.partner_confirmed_at = datetime.now(UTC)
        record_event(
            session,
            actor=actor,
            entity="visit_request",
            entity_key=str(visit.id),
            action="confirmed",
            data={
                "scheduled_date": visit.scheduled_date.isoformat() if visit.scheduled_date else None
            },
        )
        if partner_id is not None:
            inbox.visit_confirmed(
                session, visit=visit, site_name=_site_name(session, visit), actor=actor
            )
    session.flush()
    return get_visit(session, visit_id=visit_id, partner_id=partner_id)


def reschedule(
    session: Session,
    *,
    visit_id: int,
    partner_id: int | None,
    request: RescheduleIn,
    actor: str,
) -> VisitOut:
    """Record the partner's blocked dates and preferred windows. A scheduled visit goes
    back to requested so that the next plan moves it; its units go back to notified."""
    visit = _locked_visit(session, visit_id, partner_id)
    if visit.status in ("done", "cancelled"):
        raise Conflict(f"visit {visit_id} is {visit.status}; there is nothing to reschedule")
    campaign = session.get_one(Campaign, visit.campaign_id)
    visit.blocked_dates = sorted(set(request.blocked_dates))
    visit.preferred_windows = [w.model_dump(mode="json") for w in request.preferred_windows]
    visit.partner_note = request.note
    visit.updated_at = datetime.now(UTC)
    was = visit.status
    if visit.status == "scheduled":
        unschedule(
            session,
            campaign=campaign,
            visit=visit,
            actor=actor,
            reason="the partner asked to reschedule the visit",
        )
    record_event(
        session,
        actor=actor,
        entity="visit_request",
        entity_key=str(visit.id),
        action="reschedule_requested",
        from_state=was,
        to_state=visit.status,
        reason=request.note,
        data=request.model_dump(mode="json"),
    )
    session.flush()
    visit_notices.reschedule_received(session, campaign=campaign, visit=visit)
    if partner_id is not None:
        inbox.reschedule_requested(
            session,
            visit=visit,
            site_name=_site_name(session, visit),
            blocked_dates=list(visit.blocked_dates),
            note=request.note,
            actor=actor,
        )
    return get_visit(session, visit_id=visit_id, partner_id=partner_id)


def _site_name(session: Session, visit: VisitRequest) -> str:
    return session.get_one(Site, visit.site_id).name


def unschedule(
    session: Session, *, campaign: Campaign, visit: VisitRequest, actor: str, reason: str
) -> None:
    """A scheduled visit goes back to requested: its date, window, technician and the
    partner's confirmation are dropped, and its scheduled units go back to notified."""
    visit.status = "requested"
    visit.scheduled_date = visit.window_start = visit.window_end = None
    visit.technician_id = None
    visit.partner_confirmed_at = visit.told_at = None
    visit.updated_at = datetime.now(UTC)
    session.flush()
    move_units(
        session,
        campaign=campaign,
        site_id=visit.site_id,
        partner_id=None,
        from_states=("scheduled",),
        to_state="notified",
        actor=actor,
        reason=reason,
    )


def sync_visits(
    session: Session,
    *,
    campaign: Campaign,
    actor: str,
    today: date | None = None,
    site_ids: list[int] | None = None,
) -> VisitChanges:
    """Keep the visit requests in step with the units (at ``site_ids`` only, when given;
    see ``repository.refresh_visit_requests``): revisits for units that need one (each an
    event), requested visits with nothing to do cancelled, and a visit scheduled after
    ``today`` whose every unit is now fixed or waived cancelled, with a notice to the
    partner (a visit due today or earlier is left to the technician's finish)."""
    today = today or datetime.now(UTC).date()
    changes = refresh_visit_requests(session, campaign, today=today, site_ids=site_ids)
    for site_key, attempt in changes.created.items():
        if attempt > 1:
            visit_id = session.scalars(
                select(VisitRequest.id)
                .join(Site, Site.id == VisitRequest.site_id)
                .where(
                    VisitRequest.campaign_id == campaign.id,
                    Site.site_key == site_key,
                    VisitRequest.attempt == attempt,
                )
            ).one()
            record_event(
                session,
                actor=actor,
                entity="visit_request",
                entity_key=str(visit_id),
                action="revisit_requested",
                to_state="requested",
                data={"site_key": site_key, "attempt": attempt},
            )
    for visit_id in changes.cancelled:
        _cancelled_event(session, visit_id, actor, "requested", "no unit there needs a visit")
    not_final = (
        select(CampaignUnit.id)
        .where(
            CampaignUnit.campaign_id == VisitRequest.campaign_id,
            CampaignUnit.site_id == VisitRequest.site_id,
            CampaignUnit.state.not_in(FINAL_UNIT_STATES),
        )
        .exists()
    )
    stmt = select(VisitRequest).where(
        VisitRequest.campaign_id == campaign.id,
        VisitRequest.status == "scheduled",
        VisitRequest.scheduled_date > today,
        ~not_final,
    )
    if site_ids is not None:
        stmt = stmt.where(VisitRequest.site_id.in_(site_ids))
    needless = session.scalars(stmt.order_by(VisitRequest.id).with_for_update()).all()
    _cancel(session, campaign, needless, actor, "every unit is fixed or waived")
    return changes


def cancel_open_visits(session: Session, *, campaign: Campaign, actor: str) -> None:
    """Cancel every open visit of a campaign being closed (partners with a date told)."""
    visits = session.scalars(
        select(VisitRequest)
        .where(
            VisitRequest.campaign_id == campaign.id, VisitRequest.status.in_(OPEN_VISIT_STATUSES)
        )
        .order_by(VisitRequest.id)
        .with_for_update()
    ).all()
    _cancel(session, campaign, visits, actor, "the recall is closed")


def _cancel(
    session: Session, campaign: Campaign, visits: Sequence[VisitRequest], actor: str, why: str
) -> None:
    for visit in visits:
        was = visit.status
        visit.status, visit.updated_at = "cancelled", datetime.now(UTC)
        session.flush()
        _cancelled_event(session, visit.id, actor, was, why)
        if was == "scheduled":
            visit_notices.visit_cancelled(session, campaign=campaign, visit=visit)
    session.flush()


def _cancelled_event(session: Session, visit_id: int, actor: str, was: str, why: str) -> None:
    record_event(
        session,
        actor=actor,
        entity="visit_request",
        entity_key=str(visit_id),
        action="cancelled",
        from_state=was,
        to_state="cancelled",
        reason=why,
    )


PRODID = "-//fieldrecall//recall visits//EN"


def partner_for_token(session: Session, token: str) -> Partner:
    """The partner whose link this is; 404 for a technician's or an unknown link."""
    link = link_for_token(session, token)
    if link.partner_id is None:
        raise NotFound("nothing at this address (the link may have been replaced)")
    return session.get_one(Partner, link.partner_id)


def partner_calendar(session: Session, *, partner: Partner) -> bytes:
    """The partner's scheduled visits as VEVENTs; a visit without an arrival window is an
    all-day event on its date."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Recall visits: {partner.name}")
    rows = session.execute(
        select(VisitRequest, Site, Campaign)
        .join(Site, Site.id == VisitRequest.site_id)
        .join(Campaign, Campaign.id == VisitRequest.campaign_id)
        .where(VisitRequest.partner_id == partner.id, VisitRequest.status == "scheduled")
        .order_by(VisitRequest.scheduled_date, Site.site_key)
    ).all()
    for visit, site, campaign in rows:
        event = CalendarEvent()
        event.add("uid", f"visit-{visit.id}@fieldrecall")
        event.add("dtstamp", visit.updated_at)
        if visit.window_start and visit.window_end:
            event.add("dtstart", visit.window_start)
            event.add("dtend", visit.window_end)
        else:
            assert visit.scheduled_date is not None  # the table's check guarantees it
            event.add("dtstart", visit.scheduled_date)
            event.add("dtend", visit.scheduled_date + timedelta(days=1))
        event.add("summary", f"Recall visit: {campaign.title} at {site.name}")
        event.add("location", ", ".join(p for p in (site.name, site.address) if p))
        event.add("geo", (site.lat, site.lon))
        event.add(
            "description",
            f"{visit.unit_count} unit(s) to fix. {campaign.remedy}\n"
            f"Arrival window as shown; about {visit.estimated_minutes} minutes on site."
            + ("" if visit.partner_confirmed_at else "\nPlease confirm this date."),
        )
        event.add("status", "CONFIRMED" if visit.partner_confirmed_at else "TENTATIVE")
        cal.add_component(event)
    return cal.to_ical()
