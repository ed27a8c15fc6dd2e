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
    threshold_c: float | None = Field(None, description="the latest run's threshold")
    evidence_first_held_on: date | None = Field(
        None, description="the first day on which the evidence rules held"
    )
    alarm_on: date | None = Field(None, description="the day the sequential test alarmed")
    latest_result: dict[str, Any]


class DailyStatisticOut(BaseModel):
    day: date
    statistic: float = Field(description="the maximised log-likelihood ratio (nats)")
    evidence_met: bool
    threshold_c: float | None


class SequentialOut(BaseModel):
    method: str
    critical_value: float
    statistic: float
    max_statistic: float
    alarm_on: date | None
    threshold_at_alarm_c: float | None
    evidence_first_held_on: date | None
    days: list[DailyStatisticOut]


class BinRateOut(BaseModel):
    """Failures per 1,000 unit-days in one whole-degree bin, with exact 95 % intervals."""

    bin_c: int
    unit_days: float
    failures: int
    rate_per_1000: float | None
    rate_ci: list[float | None]
    others_unit_days: float
    others_failures: int
    others_rate_per_1000: float | None
    others_rate_ci: list[float | None]


class RatePointOut(BaseModel):
    """The rate model at a steady temperature: rates per 1,000 unit-days, the batch-vs-others
    rate ratio and the probability that a unit fails within ``days`` days."""

    temperature_c: float
    rate_per_1000: float | None
    rate_ci: list[float | None]
    others_rate_per_1000: float | None
    rate_ratio: float | None
    rate_ratio_ci: list[float | None]
    probability: float | None
    probability_ci: list[float | None]
    others_probability: float | None


class RateModelOut(BaseModel):
    fitted: bool
    note: str
    days: int
    per_degree_ratio: float | None = Field(
        None, description="how much faster the batch's rate grows per degree beyond than others'"
    )
    per_degree_ratio_ci: list[float | None] | None
    batch_per_degree: float | None
    others_per_degree: float | None
    curve: list[RatePointOut]


class SignalDetailOut(SignalOut):
    """A signal with the evidence behind it (what the console plots)."""

    as_of: date
    window_start: date | None
    failures_beyond: int | None
    failures_other: int | None
    sites_with_failures_beyond: int | None
    rate_ratio: float | None
    rate_ratio_ci: list[float | None] | None
    failed_fraction: float | None
    method: str | None = Field(None, description="how the rates and the model are computed")
    rates: list[BinRateOut]
    rate_model: RateModelOut | None
    sequential: SequentialOut | None
    iceberg: dict[str, Any] | None


class SignalStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["new", "acknowledged", "dismissed", "recall_declared"]
    reason: Text | None = Field(None, max_length=2000)
