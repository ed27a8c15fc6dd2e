"""All registry queries, spatial ones included. ``partner_id`` scopes a query to one
partner's data (None: everything); the API passes the caller's binding through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import Select, cast, func, null, select
from sqlalchemy.orm import Session

from core.pagination import PageRequest, paginate
from devices.models import (
    Batch,
    FailureReport,
    Partner,
    Site,
    Technician,
    Unit,
    WeatherObservation,
    WeatherStation,
)


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True)
class Near:
    lat: float
    lon: float
    within_km: float


def _point(lat: float, lon: float) -> Any:
    return cast(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), Geography)


def list_partners(
    session: Session, *, partner_id: int | None, page: PageRequest
) -> tuple[list[Any], int]:
    stmt = select(Partner).order_by(Partner.partner_key)
    if partner_id is not None:
        stmt = stmt.where(Partner.id == partner_id)
    rows, total = paginate(session, stmt, page)
    return [r[0] for r in rows], total


def get_partner(session: Session, partner_key: str, *, partner_id: int | None) -> Partner | None:
    stmt = select(Partner).where(Partner.partner_key == partner_key)
    if partner_id is not None:
        stmt = stmt.where(Partner.id == partner_id)
    return session.scalar(stmt)


SITE_COLUMNS = (
    Site.site_key,
    Partner.partner_key,
    Site.name,
    Site.address,
    Site.lat,
    Site.lon,
    Site.timezone,
    Site.opening_hours,
)


def list_sites(
    session: Session,
    *,
    partner_id: int | None,
    page: PageRequest,
    partner_key: str | None = None,
    bbox: BBox | None = None,
    near: Near | None = None,
    site_key: str | None = None,
) -> tuple[list[Any], int]:
    distance = (
        (func.ST_Distance(Site.location, _point(near.lat, near.lon)) / 1000.0) if near else null()
    )
    stmt = select(*SITE_COLUMNS, distance.label("distance_km")).join(
        Partner, Partner.id == Site.partner_id
    )
    if partner_id is not None:
        stmt = stmt.where(Site.partner_id == partner_id)
    if partner_key is not None:
        stmt = stmt.where(Partner.partner_key == partner_key)
    if site_key is not None:
        stmt = stmt.where(Site.site_key == site_key)
    if bbox is not None:
        envelope = cast(
            func.ST_MakeEnvelope(bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat, 4326),
            Geography,
        )
        stmt = stmt.where(func.ST_Intersects(Site.location, envelope))
    if near is not None:
        # ST_DWithin on geography uses the GiST index and measures in metres.
        stmt = stmt.where(
            func.ST_DWithin(Site.location, _point(near.lat, near.lon), near.within_km * 1000.0)
        ).order_by(distance, Site.site_key)
    else:
        stmt = stmt.order_by(Site.site_key)
    return paginate(session, stmt, page)


def list_batches(
    session: Session, *, partner_id: int | None, page: PageRequest, batch_key: str | None = None
) -> tuple[list[Any], int]:
    units = select(Unit.batch_id, func.count().label("n")).join(Site, Site.id == Unit.site_id)
    failures = (
        select(Unit.batch_id, func.count().label("n"))
        .join(FailureReport, FailureReport.unit_id == Unit.id)
        .join(Site, Site.id == Unit.site_id)
    )
    if partner_id is not None:
        units = units.where(Site.partner_id == partner_id)
        failures = failures.where(Site.partner_id == partner_id)
    unit_counts = units.group_by(Unit.batch_id).subquery()
    failure_counts = failures.group_by(Unit.batch_id).subquery()
    stmt: Select = (
        select(
            Batch.batch_key,
            Batch.model,
            Batch.hardware_rev,
            Batch.manufactured_on,
            func.coalesce(unit_counts.c.n, 0).label("unit_count"),
            func.coalesce(failure_counts.c.n, 0).label("failure_count"),
        )
        .outerjoin(unit_counts, unit_counts.c.batch_id == Batch.id)
        .outerjoin(failure_counts, failure_counts.c.batch_id == Batch.id)
        .order_by(Batch.batch_key)
    )
    if partner_id is not None:
        # A partner sees the batches of its own units, with its own counts only.
        stmt = stmt.where(unit_counts.c.n > 0)
    if batch_key is not None:
        stmt = stmt.where(Batch.batch_key == batch_key)
    return paginate(session, stmt, page)


def list_units(
    session: Session,
    *,
    partner_id: int | None,
    page: PageRequest,
    batch_key: str | None = None,
    site_key: str | None = None,
    serial: str | None = None,
) -> tuple[list[Any], int]:
    stmt: Select = (
        select(
            Unit.serial,
            Batch.batch_key,
            Batch.model,
            Site.site_key,
            Partner.partner_key,
            Unit.installed_on,
            Unit.firmware,
        )
        .join(Batch, Batch.id == Unit.batch_id)
        .join(Site, Site.id == Unit.site_id)
        .join(Partner, Partner.id == Site.partner_id)
        .order_by(Unit.serial)
    )
    if partner_id is not None:
        stmt = stmt.where(Site.partner_id == partner_id)
    if batch_key is not None:
        stmt = stmt.where(Batch.batch_key == batch_key)
    if site_key is not None:
        stmt = stmt.where(Site.site_key == site_key)
    if serial is not None:
        stmt = stmt.where(Unit.serial == serial)
    return paginate(session, stmt, page)


def failure_select(partner_id: int | None) -> Select:
    stmt: Select = (
        select(
            FailureReport.report_key,
            Unit.serial,
            Batch.batch_key,
            Site.site_key,
            FailureReport.occurred_at,
            FailureReport.symptom,
            FailureReport.ambient_temp_c,
            FailureReport.source,
            FailureReport.status,
            FailureReport.resolution_note,
            FailureReport.received_at,
        )
        .join(Unit, Unit.id == FailureReport.unit_id)
        .join(Batch, Batch.id == Unit.batch_id)
        .join(Site, Site.id == Unit.site_id)
    )
    if partner_id is not None:
        stmt = stmt.where(Site.partner_id == partner_id)
    return stmt


def list_failures(
    session: Session,
    *,
    partner_id: int | None,
    page: PageRequest,
    serial: str | None = None,
    batch_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    report_keys: Sequence[str] | None = None,
    status: str | None = None,
) -> tuple[list[Any], int]:
    stmt = failure_select(partner_id).order_by(FailureReport.occurred_at, FailureReport.report_key)
    if status is not None:
        stmt = stmt.where(FailureReport.status == status)
    if serial is not None:
        stmt = stmt.where(Unit.serial == serial)
    if batch_key is not None:
        stmt = stmt.where(Batch.batch_key == batch_key)
    if since is not None:
        stmt = stmt.where(FailureReport.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(FailureReport.occurred_at < until)
    if report_keys is not None:
        stmt = stmt.where(FailureReport.report_key.in_(report_keys))
    return paginate(session, stmt, page)


def list_stations(session: Session, *, page: PageRequest) -> tuple[list[Any], int]:
    stmt: Select = select(
        WeatherStation.station_key, WeatherStation.name, WeatherStation.lat, WeatherStation.lon
    ).order_by(WeatherStation.station_key)
    return paginate(session, stmt, page)


def list_observations(
    session: Session,
    *,
    page: PageRequest,
    station_key: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> tuple[list[Any], int]:
    stmt: Select = (
        select(
            WeatherStation.station_key,
            WeatherObservation.day,
            WeatherObservation.temp_min_c,
            WeatherObservation.temp_max_c,
        )
        .join(WeatherStation, WeatherStation.id == WeatherObservation.station_id)
        .order_by(WeatherStation.station_key, WeatherObservation.day)
    )
    if station_key is not None:
        stmt = stmt.where(WeatherStation.station_key == station_key)
    if since is not None:
        stmt = stmt.where(WeatherObservation.day >= since)
    if until is not None:
        stmt = stmt.where(WeatherObservation.day <= until)
    return paginate(session, stmt, page)


def list_technicians(
    session: Session, *, technician_id: int | None, page: PageRequest
) -> tuple[list[Any], int]:
    stmt = select(Technician).order_by(Technician.technician_key)
    if technician_id is not None:
        stmt = stmt.where(Technician.id == technician_id)
    rows, total = paginate(session, stmt, page)
    return [r[0] for r in rows], total


def units_by_serial(
    session: Session, serials: Sequence[str], *, partner_id: int | None
) -> dict[str, tuple[int, date | None]]:
    """(unit id, installed_on) per serial, for the serials visible in the scope."""
    stmt = select(Unit.serial, Unit.id, Unit.installed_on).where(Unit.serial.in_(serials))
    if partner_id is not None:
        stmt = stmt.join(Site, Site.id == Unit.site_id).where(Site.partner_id == partner_id)
    return {serial: (unit_id, installed) for serial, unit_id, installed in session.execute(stmt)}


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
