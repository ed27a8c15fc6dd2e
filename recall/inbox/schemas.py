"""Pydantic shapes of the inbox API: an item as a console page lists it, marking items,
and the unread counts for a badge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class InboxItemOut(BaseModel):
    id: int
    kind: str = Field(
        description="visit_confirmed, reschedule_requested, failure_reported, unit_refused,"
        " field_conflict"
    )
    partner_key: str
    partner_name: str
    campaign_id: int | None
    visit_id: int | None = Field(description="GET /api/v1/visits/{visit_id}")
    site_key: str | None
    serial: str | None
    report_key: str | None = Field(description="GET /api/v1/failures/{report_key}")
    summary: str
    data: dict[str, Any]
    actor: str
    created_at: datetime
    read: bool
    read_at: datetime | None
    read_by: str | None


class MarkIn(BaseModel):
    """Mark several items at once (e.g. what a page shows)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(min_length=1, max_length=1000)
    read: bool = True


class MarkOut(BaseModel):
    changed: int = Field(description="items whose read state changed")
    unread: int = Field(description="unread items left in the whole inbox")


class InboxSummaryOut(BaseModel):
    unread: int
    unread_by_kind: dict[str, int]
    total: int
