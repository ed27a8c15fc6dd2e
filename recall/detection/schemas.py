"""Pydantic shapes of the detection API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.inputs import Text


class DetectionRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(None, description="use only what was known up to this day")
    variable: Literal["temp_min_c", "temp_max_c"] = "temp_min_c"
    direction: Literal["below", "above"] | None = Field(
        None, description="default: below for temp_min_c, above for temp_max_c"
    )
    since: date | None = Field(None, description="window start (default: a year before as_of)")
    max_station_km: float | None = Field(
        None, gt=0, le=500, description="nearest-station limit (default: the setting, 50 km)"
    )
    # Evidence rules (defaults in recall.detection.statistics.DetectionConfig: 3, 2, 1.5).
    min_failures_beyond: int | None = Field(None, ge=1, le=10_000)
    min_sites_beyond: int | None = Field(None, ge=1, le=10_000)
    min_rate_ratio_lower: float | None = Field(None, ge=0, le=1_000)


class DetectionRunOut(BaseModel):
    id: int
    status: str
    as_of: date
    window_start: date | None
    variable: str
    direction: str
    parameters: dict[str, Any]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    summary: dict[str, Any] | None
    results: list[dict[str, Any]] | None = None


class SignalOut(BaseModel):
    id: int
    batch_key: str
    variable: str
    direction: str
    status: str
    first_run_id: int
    status_changed_at: datetime
    status_changed_by: str
    status_reason: str | None
    latest_result: dict[str, Any]


class SignalStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["new", "acknowledged", "dismissed", "recall_declared"]
    reason: Text | None = Field(None, max_length=2000)
