"""The inbox table. It lives in its room (not in ``recall/models.py``) because no other
sub-domain reads it: campaigns write items through ``recall.inbox.service.record``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of

INBOX_KINDS = (
    "visit_confirmed",
    "reschedule_requested",
    "failure_reported",
    "unit_refused",
    # A technician's recorded work the server could not apply (the unit already had
    # another outcome, the visit moved to another technician): kept for the lead.
    "field_conflict",
)


class InboxItem(Base):
    """One thing a partner did (or a technician's work that could not be applied) that the
    support lead should see; read or unread."""

    __tablename__ = "inbox_item"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), nullable=False)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("recall_campaign.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit_request.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    failure_report_id: Mapped[int | None] = mapped_column(ForeignKey("failure_report.id"))
    # One line for a list, written when the action happened (what, where, by whom).
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint(one_of("kind", INBOX_KINDS), name="kind"),
        CheckConstraint("(read_at IS NULL) = (read_by IS NULL)", name="read"),
        # A failure report is one item, however often its report_key is sent again.
        Index(
            "uq_inbox_item_failure_report",
            "failure_report_id",
            unique=True,
            postgresql_where=text("failure_report_id IS NOT NULL"),
        ),
        Index("ix_inbox_item_unread", "created_at", postgresql_where=text("read_at IS NULL")),
        Index("ix_inbox_item_partner_id", "partner_id", "created_at"),
    )
