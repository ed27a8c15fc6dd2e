"""Visit requests as partners see and steer them: status, confirmation, rescheduling.

The planner (issue 6) reads ``blocked_dates`` and ``preferred_windows`` and must respect
them; a request that conflicts with the visit's current date sends the visit back to
``requested`` (its units back to ``notified``) so that the next plan moves it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.events import record_event
from devices.models import Partner, Site
from recall import notices
from recall.campaign_models import Campaign, VisitRequest
from recall.campaign_schemas import RescheduleIn, VisitOut
from recall.lifecycle import move_units


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
        unit_count=visit.unit_count,
        estimated_minutes=visit.estimated_minutes,
        priority_rank=visit.priority_rank,
        recent_min_temp_c=visit.recent_min_temp_c,
        scheduled_date=visit.scheduled_date,
        window_start=visit.window_start,
        window_end=visit.window_end,
        partner_confirmed_at=visit.partner_confirmed_at,
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
        visit.status = "requested"
        visit.scheduled_date = visit.window_start = visit.window_end = None
        visit.technician_id = None
        visit.partner_confirmed_at = None
        move_units(
            session,
            campaign=campaign,
            site_id=visit.site_id,
            partner_id=None,
            from_states=("scheduled",),
            to_state="notified",
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
    notices.reschedule_received(session, campaign=campaign, visit=visit)
    return get_visit(session, visit_id=visit_id, partner_id=partner_id)
