"""The fleet at a glance, for the console's home page: failure reports per week over the
whole fleet, and the sites with their unit and failure counts (the map)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.models import FailureReport, Partner, Site, Unit


@dataclass(frozen=True)
class SiteOverview:
    site_key: str
    name: str
    partner_key: str
    lat: float
    lon: float
    units: int
    failures: int


def site_overview(session: Session, *, limit: int) -> tuple[list[SiteOverview], int]:
    """Sites with their unit and failure report counts, the most failures first (at most
    ``limit``), and the number of sites in all."""
    units = select(Unit.site_id, func.count().label("n")).group_by(Unit.site_id).subquery()
    failures = (
        select(Unit.site_id, func.count().label("n"))
        .join(FailureReport, FailureReport.unit_id == Unit.id)
        .group_by(Unit.site_id)
        .subquery()
    )
    unit_count = func.coalesce(units.c.n, 0)
    failure_count = func.coalesce(failures.c.n, 0)
    stmt = (
        select(
            Site.site_key,
            Site.name,
            Partner.partner_key,
            Site.lat,
            Site.lon,
            unit_count,
            failure_count,
        )
        .join(Partner, Partner.id == Site.partner_id)
        .outerjoin(units, units.c.site_id == Site.id)
        .outerjoin(failures, failures.c.site_id == Site.id)
        .order_by(failure_count.desc(), Site.site_key)
        .limit(limit)
    )
    sites = [SiteOverview(*row) for row in session.execute(stmt)]
    return sites, session.scalar(select(func.count()).select_from(Site)) or 0


def failures_per_week(session: Session, *, weeks: int) -> list[tuple[date, int]]:
    """Failure reports per week (weeks start on Monday, UTC) over the whole fleet: the
    ``weeks`` weeks up to the week of the latest report, weeks without one counted 0;
    empty without any report."""
    week = func.date_trunc("week", func.timezone("UTC", FailureReport.occurred_at))
    counts = {
        start.date(): n
        for start, n in session.execute(
            select(week, func.count()).group_by(week).order_by(week.desc()).limit(weeks)
        )
    }
    if not counts:
        return []
    last = max(counts)
    starts = [last - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]
    return [(start, counts.get(start, 0)) for start in starts]
