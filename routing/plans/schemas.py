"""Pydantic shapes of the field-plan API: starting plans and re-plans, reading them with
their routes, stops and unassigned visits, publishing, absences and closures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.inputs import Line, Text


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_day: date
    last_day: date
    seconds: float | None = Field(None, gt=0, description="solver time limit (default: settings)")

    @model_validator(mode="after")
    def _ordered(self) -> PlanIn:
        if self.last_day < self.first_day:
            raise ValueError(f"last_day {self.last_day} is before first_day {self.first_day}")
        return self


class ReplanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    today: date | None = Field(None, description="default: today in the plan's time zone")
    last_day: date | None = Field(None, description="default: the published plan's last day")
    seconds: float | None = Field(None, gt=0)


class StopOut(BaseModel):
    seq: int
    visit_id: int
    site_key: str
    site_name: str
    partner_key: str
    arrival: datetime
    service_start: datetime
    service_end: datetime
    window_start: datetime
    window_end: datetime
    drive_minutes_before: int
    distance_km_before: float
    status: str


class RouteOut(BaseModel):
    technician_key: str
    technician_name: str
    day: date
    departure: datetime
    return_at: datetime
    break_start: datetime | None
    break_minutes: int
    drive_minutes: int
    distance_km: float
    work_minutes: int
    stops: list[StopOut]


class UnassignedOut(BaseModel):
    visit_id: int
    site_key: str
    partner_key: str
    reason: str


class PlanOut(BaseModel):
    id: int
    campaign_id: int
    version: int
    based_on_plan_id: int | None
    status: str
    first_day: date
    last_day: date
    timezone: str
    parameters: dict[str, Any]
    progress: dict[str, Any] | None
    stats: dict[str, Any] | None
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    published_at: datetime | None
    published_by: str | None


class PlanDetailOut(PlanOut):
    routes: list[RouteOut]
    unassigned: list[UnassignedOut]


class PublishOut(BaseModel):
    plan: PlanOut
    superseded_plan_id: int | None
    new: list[int]
    moved: list[int]
    unchanged: list[int]
    dropped: list[int]
    skipped: list[int]


class DaysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_day: date
    last_day: date | None = Field(None, description="default: first_day (one day)")
    reason: Text | None = Field(None, max_length=2000)


class AbsenceIn(DaysIn):
    technician_key: Line = Field(min_length=1, max_length=100)


class ClosureIn(DaysIn):
    site_key: Line = Field(min_length=1, max_length=100)


class AbsenceOut(BaseModel):
    id: int
    technician_key: str
    day: date
    reason: str | None


class ClosureOut(BaseModel):
    id: int
    site_key: str
    day: date
    reason: str | None
