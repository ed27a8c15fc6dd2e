"""Pydantic shapes of the registry API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.inputs import Line, LocalTime, Text


class PartnerOut(BaseModel):
    partner_key: str
    name: str
    contact_email: str | None
    contact_phone: str | None


class SiteOut(BaseModel):
    site_key: str
    partner_key: str
    name: str
    address: str | None
    lat: float
    lon: float
    timezone: str
    opening_hours: str | None
    distance_km: float | None = None


class BatchOut(BaseModel):
    batch_key: str
    model: str
    hardware_rev: str | None
    manufactured_on: date | None
    unit_count: int
    failure_count: int


class UnitOut(BaseModel):
    serial: str
    batch_key: str
    model: str
    site_key: str
    partner_key: str
    installed_on: date | None
    firmware: str | None


class FailureOut(BaseModel):
    report_key: str
    reported_by: str | None = None  # the partner that filed it; None: the operator's feed
    serial: str
    batch_key: str
    site_key: str
    occurred_at: datetime
    symptom: str | None
    ambient_temp_c: float | None
    source: str | None
    status: str
    resolution_note: str | None
    received_at: datetime


class FailureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report_key: Line = Field(min_length=1, max_length=100)
    serial: Line = Field(min_length=1, max_length=100)
    occurred_at: datetime
    symptom: Text | None = Field(default=None, max_length=2000)
    ambient_temp_c: float | None = Field(default=None, ge=-90, le=60)
    source: Literal["partner", "technician", "telemetry"] | None = None

    @field_validator("occurred_at")
    @classmethod
    def _needs_zone(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at needs a time zone, e.g. 2026-10-03T07:15:00+03:00")
        return value


class FailureBatchOut(BaseModel):
    created: int
    existing: int
    items: list[FailureOut]


class StationOut(BaseModel):
    station_key: str
    name: str | None
    lat: float
    lon: float


class ObservationOut(BaseModel):
    station_key: str
    day: date
    temp_min_c: float
    temp_max_c: float | None


class TechnicianOut(BaseModel):
    technician_key: str
    name: str
    home_lat: float
    home_lon: float
    skills: list[str]
    shift_start: LocalTime
    shift_end: LocalTime
    workdays: str


class ImportOut(BaseModel):
    kind: str
    file: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
