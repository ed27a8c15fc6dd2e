"""Recall campaigns: the declaration, the snapshot of affected units with their lifecycle
state, and one visit request per affected site.

The snapshot keeps the site and partner a unit had when it entered the campaign, so the
campaign's history does not shift when the registry changes later; re-evaluation adds
units, it never drops one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of

UNIT_STATES = (
    "affected",
    "notified",
    "scheduled",
    "in_progress",
    "fixed",
    "unable_to_access",
    "refused",
    "not_found",
)
FINAL_UNIT_STATES = ("fixed", "unable_to_access", "refused", "not_found")
VISIT_STATUSES = ("requested", "scheduled", "done", "cancelled")
CAMPAIGN_STATUSES = ("active", "closed")
PRIORITY_RULES = ("coldest_then_most_units", "most_units")


class Campaign(Base):
    __tablename__ = "recall_campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    # The scope as the support lead gave it (batch keys, serial ranges, models, installed_on
    # range, region); the region is also kept as geography so PostGIS can evaluate it.
    scope: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    region: Mapped[Any | None] = mapped_column(
        Geography(geometry_type="GEOMETRY", srid=4326, spatial_index=False)
    )
    remedy: Mapped[str] = mapped_column(Text, nullable=False)
    minutes_per_unit: Mapped[int] = mapped_column(Integer, nullable=False)
    minutes_per_visit: Mapped[int] = mapped_column(Integer, nullable=False)
    required_skill: Mapped[str | None] = mapped_column(String(100))
    deadline: Mapped[date | None] = mapped_column(Date)
    priority_rule: Mapped[str] = mapped_column(String(40), nullable=False)
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signal.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    declared_by: Mapped[str] = mapped_column(String(200), nullable=False)
    declared_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_evaluated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint(one_of("status", CAMPAIGN_STATUSES), name="status"),
        CheckConstraint(one_of("priority_rule", PRIORITY_RULES), name="priority_rule"),
        CheckConstraint("minutes_per_unit >= 0 AND minutes_per_visit >= 0", name="minutes"),
        Index("ix_recall_campaign_region", "region", postgresql_using="gist"),
    )


class CampaignUnit(Base):
    __tablename__ = "campaign_unit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("recall_campaign.id"), nullable=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), nullable=False)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), nullable=False)
    state: Mapped[str] = mapped_column(String(30), nullable=False, server_default="affected")
    state_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    note: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    added_by: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (
        UniqueConstraint("campaign_id", "unit_id"),
        CheckConstraint(one_of("state", UNIT_STATES), name="state"),
        Index("ix_campaign_unit_campaign_partner", "campaign_id", "partner_id"),
        Index("ix_campaign_unit_campaign_site", "campaign_id", "site_id"),
    )


class VisitRequest(Base):
    __tablename__ = "visit_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("recall_campaign.id"), nullable=False)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), nullable=False)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="requested")
    unit_count: Mapped[int] = mapped_column(Integer, nullable=False)
    estimated_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    # Priority: rank 1 is visited first; the inputs of the rule are kept beside it.
    priority_rank: Mapped[int] = mapped_column(Integer, nullable=False)
    recent_min_temp_c: Mapped[float | None] = mapped_column(Double)
    scheduled_date: Mapped[date | None] = mapped_column(Date)
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technician.id"))
    partner_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the partner asked for; the planner must respect both.
    blocked_dates: Mapped[list[date]] = mapped_column(
        ARRAY(Date), nullable=False, server_default="{}"
    )
    preferred_windows: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default="[]"
    )
    partner_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        UniqueConstraint("campaign_id", "site_id"),
        CheckConstraint(one_of("status", VISIT_STATUSES), name="status"),
        CheckConstraint(
            "status <> 'scheduled' OR scheduled_date IS NOT NULL", name="scheduled_has_date"
        ),
        CheckConstraint("window_start IS NULL OR window_end >= window_start", name="window"),
    )


class CampaignFailureReport(Base):
    """A failure report linked to the recall that covers its unit (a report joins at most
    one campaign; the report's own status lives on ``failure_report``)."""

    __tablename__ = "campaign_failure_report"

    failure_report_id: Mapped[int] = mapped_column(
        ForeignKey("failure_report.id"), primary_key=True
    )
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("recall_campaign.id"), nullable=False, index=True
    )
    linked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
