"""What the planner (routing/) needs from a recall, as plain frozen data.

routing/ never reads recall's tables itself: it calls these functions and gets
dataclasses back, so the recall's schema can change without the planner noticing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from devices.models import Partner, Site
from recall.models import (
    FINAL_UNIT_STATES,
    OPEN_VISIT_STATUSES,
    Campaign,
    CampaignUnit,
    VisitRequest,
)

# Visits a plan may still serve; done and cancelled ones are history.
OPEN_STATUSES = OPEN_VISIT_STATUSES


@dataclass(frozen=True)
class CampaignForPlanning:
    id: int
    title: str
    status: str
    required_skill: str | None
    deadline: date | None


@dataclass(frozen=True)
class PreferredWindow:
    """A local time of day the partner prefers at the site, on one date or every day."""

    on: date | None
    start: time
    end: time


@dataclass(frozen=True)
class VisitForPlanning:
    """An open visit request with everything the planner needs about its site."""

    visit_id: int
    site_id: int
    site_key: str
    site_name: str
    partner_key: str
    lat: float
    lon: float
    timezone: str
    opening_hours: str | None
    estimated_minutes: int
    unit_count: int
    priority_rank: int
    required_skill: str | None
    blocked_dates: tuple[date, ...]
    preferred_windows: tuple[PreferredWindow, ...]
    status: str
    scheduled_date: date | None
    window_start: datetime | None
    window_end: datetime | None
    technician_id: int | None
    confirmed: bool
    # Units still to do (affected, notified, scheduled), being fixed now, and finished.
    units_open: int
    units_in_progress: int
    units_final: int

    @property
    def nothing_left(self) -> bool:
        """Every unit reached a final state: no visit is needed any more."""
        return self.units_open == 0 and self.units_in_progress == 0


def campaign_for_planning(
    session: Session, *, campaign_id: int, lock: bool = False
) -> CampaignForPlanning:
    """The campaign's planning-relevant fields; ``lock`` holds its row until commit (the
    planner serialises plan versions and publishing per campaign on it)."""
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        stmt = stmt.with_for_update()
    campaign = session.scalar(stmt)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return CampaignForPlanning(
        id=campaign.id,
        title=campaign.title,
        status=campaign.status,
        required_skill=campaign.required_skill,
        deadline=campaign.deadline,
    )


def visits_for_planning(
    session: Session, *, campaign_id: int, include_ids: frozenset[int] = frozenset()
) -> list[VisitForPlanning]:
    """The campaign's open visit requests (requested or scheduled), plus any visit in
    ``include_ids`` whatever its status (a re-plan keeps today's finished stops), in
    priority order."""
    counts = (
        select(
            CampaignUnit.site_id,
            func.count().filter(CampaignUnit.state.in_(("affected", "notified", "scheduled"))),
            func.count().filter(CampaignUnit.state == "in_progress"),
            func.count().filter(CampaignUnit.state.in_(FINAL_UNIT_STATES)),
        )
        .where(CampaignUnit.campaign_id == campaign_id)
        .group_by(CampaignUnit.site_id)
        .subquery()
    )
    wanted: ColumnElement[bool] = VisitRequest.status.in_(OPEN_STATUSES)
    if include_ids:
        wanted = wanted | VisitRequest.id.in_(include_ids)
    rows = session.execute(
        select(
            VisitRequest,
            Site,
            Partner.partner_key,
            Campaign.required_skill,
            counts.c[1],
            counts.c[2],
            counts.c[3],
        )
        .join(Site, Site.id == VisitRequest.site_id)
        .join(Partner, Partner.id == VisitRequest.partner_id)
        .join(Campaign, Campaign.id == VisitRequest.campaign_id)
        .outerjoin(counts, counts.c.site_id == VisitRequest.site_id)
        .where(VisitRequest.campaign_id == campaign_id, wanted)
        .order_by(VisitRequest.priority_rank, Site.site_key)
    ).all()
    out = []
    for visit, site, partner_key, skill, n_open, n_progress, n_final in rows:
        out.append(
            VisitForPlanning(
                visit_id=visit.id,
                site_id=site.id,
                site_key=site.site_key,
                site_name=site.name,
                partner_key=partner_key,
                lat=site.lat,
                lon=site.lon,
                timezone=site.timezone,
                opening_hours=site.opening_hours,
                estimated_minutes=visit.estimated_minutes,
                unit_count=visit.unit_count,
                priority_rank=visit.priority_rank,
                required_skill=skill,
                blocked_dates=tuple(sorted(visit.blocked_dates)),
                preferred_windows=tuple(
                    PreferredWindow(
                        on=date.fromisoformat(w["on"]) if w.get("on") else None,
                        start=time.fromisoformat(w["start"]),
                        end=time.fromisoformat(w["end"]),
                    )
                    for w in visit.preferred_windows
                ),
                status=visit.status,
                scheduled_date=visit.scheduled_date,
                window_start=visit.window_start,
                window_end=visit.window_end,
                technician_id=visit.technician_id,
                confirmed=visit.partner_confirmed_at is not None,
                units_open=int(n_open or 0),
                units_in_progress=int(n_progress or 0),
                units_final=int(n_final or 0),
            )
        )
    return out


def site_ids_of_campaign(session: Session, *, campaign_id: int) -> dict[int, int]:
    """site id -> visit request id of the campaign's newest visit to each site (a site
    visited again has one request per attempt; closures map to visits through it)."""
    return {
        site_id: visit_id
        for site_id, visit_id in session.execute(
            select(VisitRequest.site_id, VisitRequest.id)
            .where(VisitRequest.campaign_id == campaign_id)
            .order_by(VisitRequest.site_id, VisitRequest.attempt)
        )
    }


@dataclass(frozen=True)
class VisitLabel:
    site_key: str
    site_name: str
    partner_key: str
    status: str


def visit_labels(session: Session, *, visit_ids: list[int]) -> dict[int, VisitLabel]:
    """How plans show their visits: the site and partner, and the visit's status now."""
    rows = session.execute(
        select(VisitRequest.id, Site.site_key, Site.name, Partner.partner_key, VisitRequest.status)
        .join(Site, Site.id == VisitRequest.site_id)
        .join(Partner, Partner.id == VisitRequest.partner_id)
        .where(VisitRequest.id.in_(visit_ids))
    )
    return {vid: VisitLabel(key, name, partner, status) for vid, key, name, partner, status in rows}
