"""All registry queries, spatial ones included. ``partner_id`` scopes a query to one
partner's data (None: everything); the API passes the caller's binding through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from geoalchemy2 import Geography, Geometry
from sqlalchemy import Select, cast, func, null, select
from sqlalchemy.orm import Session, aliased

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
        # A box of longitudes and latitudes is a rectangle in geometry (plate carree). As
        # geography its edges would be great circles: high-latitude boxes would bulge,
        # and a box wider than 180 degrees would wrap the other way round.
        envelope = func.ST_MakeEnvelope(
            bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat, 4326
        )
        stmt = stmt.where(func.ST_Intersects(cast(Site.location, Geometry), envelope))
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
    reporter = aliased(Partner)
    stmt: Select = (
        select(
            FailureReport.id,
            FailureReport.report_key,
            reporter.partner_key.label("reported_by"),
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
        .outerjoin(reporter, reporter.id == FailureReport.reported_by_partner_id)
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
    report_ids: Sequence[int] | None = None,
    reporter_partner_id: int | Literal["any"] | None = "any",
) -> tuple[list[Any], int]:
    """A page of failure reports in the scope; ``reporter_partner_id`` narrows them to one
    reporter's (None: the operator's feed)."""
    stmt = failure_select(partner_id).order_by(
        FailureReport.occurred_at, FailureReport.report_key, FailureReport.id
    )
    if status is not None:
        stmt = stmt.where(FailureReport.status == status)
    if report_ids is not None:
        stmt = stmt.where(FailureReport.id.in_(report_ids))
    if reporter_partner_id != "any":
        stmt = stmt.where(
            FailureReport.reported_by_partner_id.is_not_distinct_from(reporter_partner_id)
        )
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
    session: Session,
    serials: Sequence[str],
    *,
    partner_id: int | None,
    site_ids: frozenset[int] | None = None,
) -> dict[str, tuple[int, date | None]]:
    """(unit id, installed_on) per serial, for the serials visible in the scope (one
    partner's units; with ``site_ids``, only units at those sites)."""
    stmt = select(Unit.serial, Unit.id, Unit.installed_on).where(Unit.serial.in_(serials))
    if partner_id is not None:
        stmt = stmt.join(Site, Site.id == Unit.site_id).where(Site.partner_id == partner_id)
    if site_ids is not None:
        stmt = stmt.where(Unit.site_id.in_(site_ids))
    return {serial: (unit_id, installed) for serial, unit_id, installed in session.execute(stmt)}


def stored_report_keys(
    session: Session, keys: Sequence[str], *, reporter_partner_id: int | None
) -> set[str]:
    """Which of ``keys`` a reporter (a partner, or None: the operator's feed) has used."""
    stmt = select(FailureReport.report_key).where(
        FailureReport.report_key.in_(keys),
        FailureReport.reported_by_partner_id.is_not_distinct_from(reporter_partner_id),
    )
    return set(session.scalars(stmt))


def reports_with_key(
    session: Session, report_key: str, *, partner_id: int | None
) -> list[tuple[int, str | None]]:
    """(report id, reporting partner's key or None) of every report with this key that
    the scope sees (one partner's units, or all)."""
    reporter = aliased(Partner)
    stmt = (
        select(FailureReport.id, reporter.partner_key)
        .outerjoin(reporter, reporter.id == FailureReport.reported_by_partner_id)
        .where(FailureReport.report_key == report_key)
        .order_by(FailureReport.id)
    )
    if partner_id is not None:
        stmt = (
            stmt.join(Unit, Unit.id == FailureReport.unit_id)
            .join(Site, Site.id == Unit.site_id)
            .where(Site.partner_id == partner_id)
        )
    return [(report_id, key) for report_id, key in session.execute(stmt)]
