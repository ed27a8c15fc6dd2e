"""Detection runs, their per-batch results, and the signals a support lead acts on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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

RUN_STATUSES = ("queued", "running", "done", "failed")
SIGNAL_STATUSES = ("new", "acknowledged", "dismissed", "recall_declared")


class DetectionRun(Base):
    __tablename__ = "detection_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="queued")
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    window_start: Mapped[date | None] = mapped_column(Date)
    variable: Mapped[str] = mapped_column(String(20), nullable=False)
    direction: Mapped[str] = mapped_column(String(10), nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    # What could not be used, and how long the SQL and the statistics took.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint(one_of("status", RUN_STATUSES), name="status"),
        CheckConstraint("variable IN ('temp_min_c', 'temp_max_c')", name="variable"),
        CheckConstraint("direction IN ('below', 'above')", name="direction"),
    )


class DetectionResult(Base):
    """One batch's statistics in one run (every batch with at least one failure)."""

    __tablename__ = "detection_result"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("detection_run.id"), nullable=False)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), nullable=False)
    flagged: Mapped[bool] = mapped_column(Boolean, nullable=False)
    threshold_c: Mapped[float | None] = mapped_column(Double)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)

    __table_args__ = (UniqueConstraint("run_id", "batch_id", name="uq_detection_result_run_batch"),)


class Signal(Base):
    """A flagged batch, to be acknowledged, dismissed or turned into a recall.

    One open signal per batch, variable and direction: a later run that flags the batch
    again updates the signal's latest result instead of raising a second one.
    """

    __tablename__ = "signal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), nullable=False)
    variable: Mapped[str] = mapped_column(String(20), nullable=False)
    direction: Mapped[str] = mapped_column(String(10), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="new")
    first_run_id: Mapped[int] = mapped_column(ForeignKey("detection_run.id"), nullable=False)
    latest_result_id: Mapped[int] = mapped_column(ForeignKey("detection_result.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    status_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    status_changed_by: Mapped[str] = mapped_column(String(200), nullable=False)
    status_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(one_of("status", SIGNAL_STATUSES), name="status"),
        Index(
            "uq_signal_open_per_batch",
            "batch_id",
            "variable",
            "direction",
            unique=True,
            postgresql_where="status IN ('new', 'acknowledged')",
        ),
    )
