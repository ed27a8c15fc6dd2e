"""Pydantic shapes of the recall campaign API: scope, declaration, dry run, units, visits,
and the ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from core.inputs import Id, Line, LocalTime, Text, line_problem
from recall.models import PRIORITY_RULES, UNIT_STATES, VISIT_STATUSES

# The states as types, so that an unknown one in a body or a filter is a 422 naming it.
UnitStateName = Literal[UNIT_STATES]  # type: ignore[valid-type]
VisitStatusName = Literal[VISIT_STATUSES]  # type: ignore[valid-type]


class SerialRange(BaseModel):
    """Serials from ``first`` to ``last`` inclusive, compared byte by byte (fixed-width
    serials such as U000120..U000480 sort as expected)."""

    model_config = ConfigDict(extra="forbid")

    first: Line = Field(min_length=1, max_length=100)
    last: Line = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _ordered(self) -> SerialRange:
        if self.first.encode() > self.last.encode():
            raise ValueError(f"serial range {self.first!r}..{self.last!r} is empty")
        return self


def _check_strings(value: Any) -> None:
    """Every string anywhere in a JSON value is one line (a region's GeoJSON members)."""
    if isinstance(value, str):
        problem = line_problem(value)
        if problem:
            raise ValueError(f"region: a string {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


class Scope(BaseModel):
    """Which units a recall covers. Each given criterion must hold (AND); within a list any
    entry may match (OR). At least one of batch_keys, models or serial_ranges is needed."""

    model_config = ConfigDict(extra="forbid")

    batch_keys: list[Annotated[Line, Field(max_length=100)]] = Field(
        default_factory=list, max_length=1000
    )
    models: list[Annotated[Line, Field(max_length=100)]] = Field(
        default_factory=list, max_length=100
    )
    serial_ranges: list[SerialRange] = Field(default_factory=list, max_length=1000)
    installed_from: date | None = None
    installed_to: date | None = None
    region: dict[str, Any] | None = Field(
        None, description="a GeoJSON Polygon or MultiPolygon (lon, lat in WGS84)"
    )

    @model_validator(mode="after")
    def _coherent(self) -> Scope:
        if not (self.batch_keys or self.models or self.serial_ranges):
            raise ValueError("scope needs at least one of batch_keys, models or serial_ranges")
        if self.installed_from and self.installed_to and self.installed_from > self.installed_to:
            raise ValueError("installed_from is after installed_to")
        if self.region is not None:
            _check_strings(self.region)
            self.region_geometry()
        return self

    def region_geometry(self) -> BaseGeometry | None:
        """The region as a valid shapely polygon, or a ValueError that says what is wrong."""
        if self.region is None:
            return None
        if self.region.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("region must be a GeoJSON Polygon or MultiPolygon")
        try:
            geometry = shape(self.region)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ValueError(f"region is not valid GeoJSON: {exc}") from exc
        if geometry.is_empty or not geometry.is_valid:
            raise ValueError("region is empty or not a valid polygon (self-intersecting?)")
        min_lon, min_lat, max_lon, max_lat = geometry.bounds
        if not (min_lon >= -180 and max_lon <= 180 and min_lat >= -90 and max_lat <= 90):
            raise ValueError("region coordinates must be lon in -180..180 and lat in -90..90")
        return geometry


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Line = Field(min_length=1, max_length=300)
    scope: Scope
    remedy: Text = Field(min_length=1, max_length=5000)
    minutes_per_unit: int = Field(20, ge=0, le=24 * 60)
    minutes_per_visit: int = Field(15, ge=0, le=24 * 60)
    required_skill: Line | None = Field(None, max_length=100)
    deadline: date | None = None
    priority_rule: Literal["coldest_then_most_units", "most_units"] = "coldest_then_most_units"
    signal_id: Id | None = Field(None, description="the detection signal this recall answers")

    @field_validator("priority_rule")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        assert value in PRIORITY_RULES
        return value


class SiteCount(BaseModel):
    site_key: str
    partner_key: str
    units: int
    estimated_minutes: int


class DryRunOut(BaseModel):
    """What a declaration would cover; nothing was written."""

    units: int
    sites: int
    partners: int
    serials: list[str]
    serials_truncated: bool
    site_counts: list[SiteCount]
    partner_keys: list[str]
    estimated_minutes: int


class CampaignOut(BaseModel):
    id: int
    title: str
    status: str
    scope: dict[str, Any]
    remedy: str
    minutes_per_unit: int
    minutes_per_visit: int
    required_skill: str | None
    deadline: date | None
    priority_rule: str
    signal_id: int | None
    declared_by: str
    declared_at: datetime
    last_evaluated_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    close_note: str | None
    unit_count: int
    site_count: int
    partner_count: int


class ReevaluationOut(BaseModel):
    added_serials: list[str]
    new_sites: list[str]
    # Sites visited before that need another visit for the units added.
    revisit_sites: list[str] = []
    # Units in the campaign that the scope no longer matches: kept, never dropped silently.
    no_longer_matching: list[str]


class UnitStateIn(BaseModel):
    """The support lead's move of a unit; to decide on a refused unit (or one whose
    visits ran out): ``notified`` re-opens it for a revisit, ``waived`` closes it."""

    model_config = ConfigDict(extra="forbid")

    state: UnitStateName
    reason: Text | None = Field(
        None,
        max_length=2000,
        description="why; required for waived (refused for good, decommissioned, replaced)",
    )


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(None, max_length=2000)


class UnitEventOut(BaseModel):
    occurred_at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None


class CampaignUnitOut(BaseModel):
    serial: str
    batch_key: str
    site_key: str
    partner_key: str
    state: str
    state_changed_at: datetime
    note: str | None
    added_by: str
    visit_attempts: int = Field(description="visits at which the unit got an outcome")
    history: list[UnitEventOut] | None = None


class PreferredWindow(BaseModel):
    """A time of day the partner prefers, optionally on one date only."""

    model_config = ConfigDict(extra="forbid")

    on: date | None = None
    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _ordered(self) -> PreferredWindow:
        if self.start >= self.end:
            raise ValueError(f"preferred window {self.start}-{self.end} ends before it starts")
        return self


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blocked_dates: list[date] = Field(default_factory=list, max_length=366)
    preferred_windows: list[PreferredWindow] = Field(default_factory=list, max_length=50)
    note: Text | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _says_something(self) -> RescheduleIn:
        if not (self.blocked_dates or self.preferred_windows or self.note):
            raise ValueError("give blocked_dates, preferred_windows or a note")
        return self


class VisitOut(BaseModel):
    id: int
    campaign_id: int
    site_key: str
    site_name: str
    site_timezone: str
    partner_key: str
    status: str
    attempt: int = Field(description="1 for the first visit to the site, 2+ for revisits")
    unit_count: int = Field(description="units at the site still needing a visit")
    estimated_minutes: int
    priority_rank: int
    recent_min_temp_c: float | None
    scheduled_date: date | None
    window_start: datetime | None
    window_end: datetime | None
    partner_confirmed_at: datetime | None
    told_at: datetime | None = Field(
        description="when a notice with the current date was first delivered (None: not told)"
    )
    blocked_dates: list[date]
    preferred_windows: list[dict[str, Any]]
    partner_note: str | None


class FailureStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["triaged", "linked_to_recall", "resolved"]
    note: Text | None = Field(None, max_length=5000, description="required to resolve")
    campaign_id: Id | None = Field(None, description="required to link to a recall")


# The ledger


class StateCounts(BaseModel):
    affected: int = 0
    notified: int = 0
    scheduled: int = 0
    in_progress: int = 0
    fixed: int = 0
    unable_to_access: int = 0
    refused: int = 0
    not_found: int = 0
    waived: int = 0
    total: int = 0
    # Share of units in a final state (fixed or waived), and share fixed.
    completion_rate: float = 0.0
    fixed_rate: float = 0.0


class Progress(BaseModel):
    """What is still open, beyond the counts per state."""

    # Open visit requests that are revisits (attempt 2 or more).
    revisits_pending: int = 0
    # Units waiting for the support lead: refused, or not reached/found in every visit.
    decisions_pending: int = 0
    # Scheduled visits (and their units) whose current date no partner has been told yet.
    visits_scheduled_not_told: int = 0
    units_scheduled_not_told: int = 0


class PartnerLine(Progress):
    partner_key: str
    name: str
    contact_email: str | None
    contact_phone: str | None
    units: StateCounts
    sites: int
    visits_requested: int
    visits_scheduled: int
    visits_confirmed: int
    visits_done: int
    first_notified_at: datetime | None = Field(
        description="the first delivered notice about the recall"
    )
    notified_within_24h: bool | None  # None: not notified yet, and 24 hours not yet passed
    promise: Literal["kept", "at_risk", "broken"] = Field(
        description="kept: told within 24 hours; at_risk: not told yet, 24 hours not over; "
        "broken: told late, or not at all after 24 hours"
    )


class FollowUp(BaseModel):
    """Who to call, and why."""

    partner_key: str
    name: str
    contact_email: str | None
    contact_phone: str | None
    reason: Literal["not_reached", "not_told", "not_confirmed", "decision_pending"]
    detail: str


class LedgerOut(Progress):
    campaign_id: int
    status: str
    declared_at: datetime
    as_of: datetime
    # Every unit fixed or waived: the support lead may close the campaign.
    complete: bool
    units: StateCounts
    partners: list[PartnerLine]
    follow_up_days: int
    follow_up: list[FollowUp]
    # The 24-hour promise: affected partners not notified within 24 hours of the declaration
    # (broken), and those not told yet while the 24 hours still run (at risk).
    not_notified_within_24h: list[str]
    promise_at_risk: list[str]
