"""Every table of the recall domain, in one module so that each sub-domain can read the
others' tables without importing their code (design.md's import rules):

- detection: runs, their per-batch results, and the signals a support lead acts on;
- campaigns: the declaration, the snapshot of affected units with their lifecycle state
  (the site and partner a unit had when it entered, so history does not shift when the
  registry changes; re-evaluation adds units, never drops one), the visit requests (one
  per site and attempt: a revisit is a new request, at most one open per site), and the
  failure reports linked to a recall;
- notify: the outbox (one notice to one destination, written in the transaction of the
  change that causes it, then delivered at least once by the worker) and the partners'
  webhooks.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geography
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
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of

# Detection

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


# Campaigns

# What a technician records for a unit at a visit; the first two ask for a revisit by
# themselves (until the unit's visits run out), refused waits for the support lead.
OUTCOMES = ("fixed", "unable_to_access", "refused", "not_found")
UNIT_STATES = ("affected", "notified", "scheduled", "in_progress", *OUTCOMES, "waived")
REVISIT_OUTCOMES = ("unable_to_access", "not_found")
# Nothing is left behind: only these end a unit's part in a recall (waived carries the
# support lead's reason); the other outcomes lead to a revisit or to the lead's decision.
FINAL_UNIT_STATES = ("fixed", "waived")
VISIT_STATUSES = ("requested", "scheduled", "done", "cancelled")
# A visit a plan may still serve; at most one per campaign and site at a time.
OPEN_VISIT_STATUSES = ("requested", "scheduled")
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
    # The support lead closes a complete campaign (every unit fixed or waived).
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(200))
    close_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(one_of("status", CAMPAIGN_STATUSES), name="status"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed"),
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
    # Visits at which the unit got an outcome: the revisit rule stops asking for more
    # visits after FIELDRECALL_RECALL_MAX_VISITS_PER_UNIT and waits for the lead.
    visit_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")

    __table_args__ = (
        UniqueConstraint("campaign_id", "unit_id"),
        CheckConstraint(one_of("state", UNIT_STATES), name="state"),
        Index("ix_campaign_unit_campaign_partner", "campaign_id", "partner_id"),
        Index("ix_campaign_unit_campaign_site", "campaign_id", "site_id"),
    )


class VisitRequest(Base):
    """A visit to one site of a campaign. The first request of a site is attempt 1; a
    revisit (units not reached or not found, a refused unit re-opened, units added after
    the last visit) is a new request with the next attempt number, so every visit keeps
    its own date, technician, stops and outcome."""

    __tablename__ = "visit_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("recall_campaign.id"), nullable=False)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), nullable=False)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), nullable=False, index=True)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
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
    # When a notice with the current date and window was first delivered to the partner
    # (None: scheduled but not yet told; a new date clears it).
    told_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
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
        UniqueConstraint("campaign_id", "site_id", "attempt", name="uq_visit_request_attempt"),
        Index(
            "uq_visit_request_open_per_site",
            "campaign_id",
            "site_id",
            unique=True,
            postgresql_where=text(one_of("status", OPEN_VISIT_STATUSES)),
        ),
        CheckConstraint(one_of("status", VISIT_STATUSES), name="status"),
        CheckConstraint("attempt >= 1", name="attempt"),
        CheckConstraint("told_at IS NULL OR status <> 'requested'", name="told_needs_date"),
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


# Notifications

# 'none' records a notice that had nowhere to go (no contact email, no active webhook):
# it is born dead, so the ledger shows the partner as not reached instead of silence.
CHANNELS = ("email", "webhook", "none")
# What the recall tells partners (the outbox's ``kind``; the API filters by these).
NOTICE_KINDS = (
    "recall_declared",
    "units_added",
    "visit_scheduled",
    "visit_moved",
    "visit_unscheduled",
    "visit_cancelled",
    "visit_done",
    "reschedule_received",
    "failure_linked",
    "failure_resolved",
    "recall_closed",
)
OUTBOX_STATUSES = ("pending", "delivered", "dead")


class PartnerWebhook(Base):
    __tablename__ = "partner_webhook"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_key: Mapped[str] = mapped_column(
        ForeignKey("partner.partner_key"), nullable=False, index=True
    )
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    # Kept in clear: the worker needs it to sign each delivery (HMAC-SHA256).
    secret: Mapped[str] = mapped_column(String(200), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The same URL twice would receive every notice twice.
        Index(
            "uq_partner_webhook_active_url",
            "partner_key",
            "url",
            unique=True,
            postgresql_where=text("active"),
        ),
        CheckConstraint("active = (deactivated_at IS NULL)", name="active_state"),
    )


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    # The email address, the webhook URL, or '' for channel 'none'.
    destination: Mapped[str] = mapped_column(String(2000), nullable=False)
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("partner_webhook.id"))
    partner_key: Mapped[str] = mapped_column(
        ForeignKey("partner.partner_key"), nullable=False, index=True
    )
    topic: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100), nullable=False)
    subject: Mapped[str] = mapped_column(String(500), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="pending")
    # Attempts that finished (a worker killed mid-delivery leaves no trace here).
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint(
            "idempotency_key", "channel", "destination", name="uq_outbox_message_key_destination"
        ),
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint("(channel = 'webhook') = (webhook_id IS NOT NULL)", name="webhook_ref"),
        CheckConstraint("channel <> 'none' OR status = 'dead'", name="none_is_dead"),
        CheckConstraint("(status = 'delivered') = (delivered_at IS NOT NULL)", name="delivered"),
        CheckConstraint("attempts >= 0", name="attempts"),
        # The sweep's and the workers' lookup of what is due.
        Index(
            "ix_outbox_message_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_outbox_message_topic_partner", "topic", "partner_key", "created_at"),
    )
