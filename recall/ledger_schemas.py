"""Pydantic shapes of the recall ledger."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class StateCounts(BaseModel):
    affected: int = 0
    notified: int = 0
    scheduled: int = 0
    in_progress: int = 0
    fixed: int = 0
    unable_to_access: int = 0
    refused: int = 0
    not_found: int = 0
    total: int = 0
    # Share of units in a final state, and share fixed.
    completion_rate: float = 0.0
    fixed_rate: float = 0.0


class PartnerLine(BaseModel):
    partner_key: str
    name: str
    units: StateCounts
    sites: int
    visits_requested: int
    visits_scheduled: int
    visits_confirmed: int
    visits_done: int
    first_notified_at: datetime | None
    notified_within_24h: bool | None  # None: not notified yet, and 24 hours not yet passed


class FollowUp(BaseModel):
    partner_key: str
    reason: str  # not_reached or not_confirmed
    detail: str


class LedgerOut(BaseModel):
    campaign_id: int
    declared_at: datetime
    as_of: datetime
    units: StateCounts
    partners: list[PartnerLine]
    follow_up_days: int
    follow_up: list[FollowUp]
    # The 24-hour promise: affected partners not notified within 24 hours of the declaration.
    not_notified_within_24h: list[str]
