"""The notifications outbox and the partners' webhooks.

An outbox row is one notice to one destination (an email address or a webhook). It is
written in the transaction of the state change that causes it, so a notice exists exactly
when its change committed; the worker then delivers it at least once (recall/notify_*).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of

# 'none' records a notice that had nowhere to go (no contact email, no active webhook):
# it is born dead, so the ledger shows the partner as not reached instead of silence.
CHANNELS = ("email", "webhook", "none")
STATUSES = ("pending", "delivered", "dead")


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
        CheckConstraint(one_of("status", STATUSES), name="status"),
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
