"""Registry tables: partners, sites, batches, units, failure reports, weather, technicians.

Integrity lives in the database too: natural keys are unique, references are foreign
keys, and CHECK constraints bound coordinates, temperatures and dates. Locations are
generated columns computed from lat/lon, so the two can never disagree.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, GeoPoint

FAILURE_SOURCES = ("partner", "technician", "telemetry")
FAILURE_STATUSES = ("open", "triaged", "linked_to_recall", "resolved")
# Bounds for dates in the register: anything outside is a typo, not a real unit.
MIN_DATE = "1970-01-01"
MAX_DATE = "2100-12-31"


def _point_from(lat_col: str, lon_col: str) -> Computed:
    return Computed(
        f"(ST_SetSRID(ST_MakePoint({lon_col}, {lat_col}), 4326))::geography", persisted=True
    )


def _lat_lon_checks(prefix: str, lat_col: str, lon_col: str) -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint(f"{lat_col} BETWEEN -90 AND 90", name=f"{prefix}lat_range"),
        CheckConstraint(f"{lon_col} BETWEEN -180 AND 180", name=f"{prefix}lon_range"),
    )


def _temp_check(col: str) -> CheckConstraint:
    return CheckConstraint(f"{col} BETWEEN -90 AND 60", name=f"{col}_range")


def _date_check(col: str) -> CheckConstraint:
    return CheckConstraint(f"{col} BETWEEN '{MIN_DATE}' AND '{MAX_DATE}'", name=f"{col}_range")


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Partner(TimestampMixin, Base):
    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_key: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    contact_email: Mapped[str | None] = mapped_column(String(300))
    contact_phone: Mapped[str | None] = mapped_column(String(100))


class Site(TimestampMixin, Base):
    __tablename__ = "site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_key: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Double, nullable=False)
    lon: Mapped[float] = mapped_column(Double, nullable=False)
    location: Mapped[Any] = mapped_column(GeoPoint, _point_from("lat", "lon"), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    opening_hours: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        *_lat_lon_checks("", "lat", "lon"),
        Index("ix_site_location", "location", postgresql_using="gist"),
    )


class Batch(TimestampMixin, Base):
    __tablename__ = "batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_key: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    model: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    hardware_rev: Mapped[str | None] = mapped_column(String(100))
    manufactured_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (_date_check("manufactured_on"),)


class Unit(TimestampMixin, Base):
    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    serial: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), nullable=False, index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), nullable=False, index=True)
    installed_on: Mapped[date | None] = mapped_column(Date)
    firmware: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (_date_check("installed_on"),)


class FailureReport(Base):
    __tablename__ = "failure_report"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Unique per reporter: the partner that filed it through the API, or NULL for the
    # operator's own feed (imports, telemetry, technicians, support leads).
    report_key: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    reported_by_partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    symptom: Mapped[str | None] = mapped_column(Text)
    ambient_temp_c: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), nullable=False, server_default="open")
    resolution_note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        _temp_check("ambient_temp_c"),
        CheckConstraint(
            f"occurred_at BETWEEN '{MIN_DATE}' AND '{MAX_DATE}'", name="occurred_at_range"
        ),
        CheckConstraint(
            "source IN (" + ", ".join(f"'{s}'" for s in FAILURE_SOURCES) + ")", name="source"
        ),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in FAILURE_STATUSES) + ")", name="status"
        ),
        CheckConstraint(
            "status <> 'resolved' OR resolution_note IS NOT NULL", name="resolved_has_note"
        ),
        Index("ix_failure_report_occurred_at", "occurred_at"),
        UniqueConstraint(
            "reported_by_partner_id",
            "report_key",
            name="uq_failure_report_reporter_key",
            postgresql_nulls_not_distinct=True,
        ),
    )


class WeatherStation(TimestampMixin, Base):
    __tablename__ = "weather_station"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_key: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    name: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float] = mapped_column(Double, nullable=False)
    lon: Mapped[float] = mapped_column(Double, nullable=False)
    location: Mapped[Any] = mapped_column(GeoPoint, _point_from("lat", "lon"), nullable=False)

    __table_args__ = (
        *_lat_lon_checks("", "lat", "lon"),
        Index("ix_weather_station_location", "location", postgresql_using="gist"),
    )


class WeatherObservation(Base):
    __tablename__ = "weather_observation"

    station_id: Mapped[int] = mapped_column(
        ForeignKey("weather_station.id"), primary_key=True, nullable=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True, nullable=False)
    temp_min_c: Mapped[float] = mapped_column(Double, nullable=False)
    temp_max_c: Mapped[float | None] = mapped_column(Double)

    __table_args__ = (
        _temp_check("temp_min_c"),
        _temp_check("temp_max_c"),
        _date_check("day"),
        CheckConstraint("temp_max_c IS NULL OR temp_min_c <= temp_max_c", name="min_le_max"),
    )


class Technician(TimestampMixin, Base):
    __tablename__ = "technician"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    technician_key: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    home_lat: Mapped[float] = mapped_column(Double, nullable=False)
    home_lon: Mapped[float] = mapped_column(Double, nullable=False)
    home_location: Mapped[Any] = mapped_column(
        GeoPoint, _point_from("home_lat", "home_lon"), nullable=False
    )
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), nullable=False, server_default="{}"
    )
    shift_start: Mapped[time] = mapped_column(Time, nullable=False, server_default="08:00")
    shift_end: Mapped[time] = mapped_column(Time, nullable=False, server_default="16:00")
    workdays: Mapped[str] = mapped_column(String(50), nullable=False, server_default="Mo-Fr")

    __table_args__ = (
        *_lat_lon_checks("home_", "home_lat", "home_lon"),
        CheckConstraint("shift_start < shift_end", name="shift_order"),
        Index("ix_technician_home_location", "home_location", postgresql_using="gist"),
    )
