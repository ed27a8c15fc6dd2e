"""Stored field plans: versions per campaign, technician-day routes, ordered stops, and the
visits a plan could not serve (with the solver's reason).

A plan is immutable once solved; a re-plan is a new version that names the one it was
based on. Publishing a version supersedes the previously published one. Times are stored
as timestamps with zone; ``plan.timezone`` is the zone the solver's day-minutes meant.

Also what keeps a technician or a site from a visit on a given day: a technician's absence
(sick, training, leave) and a site closed for a day (holiday, works). The planner turns
them into days off and closed days; a re-plan treats new ones as changes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of

PLAN_STATUSES = ("queued", "running", "done", "failed", "published", "superseded")
STOP_STATUSES = ("planned", "started", "finished")
TERRITORY_STATUSES = ("queued", "done")


class FieldPlan(Base):
    __tablename__ = "field_plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("recall_campaign.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    based_on_plan_id: Mapped[int | None] = mapped_column(ForeignKey("field_plan.id"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="queued")
    first_day: Mapped[date] = mapped_column(Date, nullable=False)
    last_day: Mapped[date] = mapped_column(Date, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    # What the planner was asked (solver limits, changes fed into a re-plan).
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # Live while the job runs: {"phase": ..., "solutions": n, "best_objective": x, ...}.
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The solver's figures once done: drive minutes, unassigned, objective, seconds, ...
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(200))
    # A plan split into territories: how many, and how many are solved (each territory's
    # job counts itself done in the transaction that stores its routes).
    territories: Mapped[int | None] = mapped_column(Integer)
    territories_done: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")

    __table_args__ = (
        UniqueConstraint("campaign_id", "version"),
        CheckConstraint(one_of("status", PLAN_STATUSES), name="status"),
        CheckConstraint("first_day <= last_day", name="days"),
        # At most one published plan per campaign: the one technicians and partners see.
        Index(
            "uq_field_plan_published",
            "campaign_id",
            unique=True,
            postgresql_where="status = 'published'",
        ),
    )


class PlanRoute(Base):
    """One technician's day in a plan."""

    __tablename__ = "plan_route"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("field_plan.id"), nullable=False)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technician.id"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    departure: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    return_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    break_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    break_minutes: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    drive_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    distance_km: Mapped[float] = mapped_column(Double, nullable=False)
    work_minutes: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        UniqueConstraint("plan_id", "technician_id", "day"),
        Index("ix_plan_route_technician_day", "technician_id", "day"),
    )


class PlanStop(Base):
    """A visit in a route: order, times, the arrival window promised to the partner, and
    what the technician did (started, finished)."""

    __tablename__ = "plan_stop"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("plan_route.id"), nullable=False)
    plan_id: Mapped[int] = mapped_column(ForeignKey("field_plan.id"), nullable=False)
    visit_request_id: Mapped[int] = mapped_column(
        ForeignKey("visit_request.id"), nullable=False, index=True
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    arrival: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    service_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    service_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    drive_minutes_before: Mapped[int] = mapped_column(Integer, nullable=False)
    distance_km_before: Mapped[float] = mapped_column(Double, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="planned")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("plan_id", "visit_request_id"),
        UniqueConstraint("route_id", "seq"),
        CheckConstraint(one_of("status", STOP_STATUSES), name="status"),
        CheckConstraint("arrival <= service_start AND service_start <= service_end", name="times"),
        CheckConstraint("window_start <= window_end", name="window"),
    )


class PlanTerritory(Base):
    """One territory of a plan that is solved as one job per territory: the problem it
    was handed (routing.engine's encoding, without travel times), its time limit, and,
    once solved, the territory's plan in the same encoding."""

    __tablename__ = "plan_territory"

    plan_id: Mapped[int] = mapped_column(ForeignKey("field_plan.id"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="queued")
    problem: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    seconds: Mapped[float] = mapped_column(Double, nullable=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Starts of its job: more than one means a worker died in it and it was retried.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(one_of("status", TERRITORY_STATUSES), name="status"),)


class PlanUnassigned(Base):
    """A visit request the plan does not serve, with the solver's reason."""

    __tablename__ = "plan_unassigned"

    plan_id: Mapped[int] = mapped_column(ForeignKey("field_plan.id"), primary_key=True)
    visit_request_id: Mapped[int] = mapped_column(ForeignKey("visit_request.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(100), nullable=False)


class _DayOff:
    """One day something is unavailable, why, and who said so."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class TechnicianAbsence(_DayOff, Base):
    __tablename__ = "technician_absence"

    technician_id: Mapped[int] = mapped_column(ForeignKey("technician.id"), nullable=False)

    __table_args__ = (UniqueConstraint("technician_id", "day"),)


class SiteClosure(_DayOff, Base):
    __tablename__ = "site_closure"

    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), nullable=False)

    __table_args__ = (UniqueConstraint("site_id", "day"),)
