"""notifications outbox and partner webhooks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_key", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "active = (deactivated_at IS NULL)", name=op.f("ck_partner_webhook_active_state")
        ),
        sa.ForeignKeyConstraint(
            ["partner_key"],
            ["partner.partner_key"],
            name=op.f("fk_partner_webhook_partner_key_partner"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_webhook")),
    )
    op.create_index(
        op.f("ix_partner_webhook_partner_key"), "partner_webhook", ["partner_key"], unique=False
    )
    op.create_index(
        "uq_partner_webhook_active_url",
        "partner_webhook",
        ["partner_key", "url"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("destination", sa.String(length=2000), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=True),
        sa.Column("partner_key", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(channel = 'webhook') = (webhook_id IS NOT NULL)",
            name=op.f("ck_outbox_message_webhook_ref"),
        ),
        sa.CheckConstraint(
            "(status = 'delivered') = (delivered_at IS NOT NULL)",
            name=op.f("ck_outbox_message_delivered"),
        ),
        sa.CheckConstraint(
            "channel <> 'none' OR status = 'dead'", name=op.f("ck_outbox_message_none_is_dead")
        ),
        sa.CheckConstraint(
            "channel IN ('email', 'webhook', 'none')", name=op.f("ck_outbox_message_channel")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name=op.f("ck_outbox_message_status")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_message_attempts")),
        sa.ForeignKeyConstraint(
            ["partner_key"],
            ["partner.partner_key"],
            name=op.f("fk_outbox_message_partner_key_partner"),
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["partner_webhook.id"],
            name=op.f("fk_outbox_message_webhook_id_partner_webhook"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint(
            "idempotency_key", "channel", "destination", name="uq_outbox_message_key_destination"
        ),
    )
    op.create_index(
        "ix_outbox_message_due",
        "outbox_message",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        op.f("ix_outbox_message_partner_key"), "outbox_message", ["partner_key"], unique=False
    )
    op.create_index(
        "ix_outbox_message_topic_partner",
        "outbox_message",
        ["topic", "partner_key", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_message_topic_partner", table_name="outbox_message")
    op.drop_index(op.f("ix_outbox_message_partner_key"), table_name="outbox_message")
    op.drop_index(
        "ix_outbox_message_due",
        table_name="outbox_message",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("outbox_message")
    op.drop_index(
        "uq_partner_webhook_active_url",
        table_name="partner_webhook",
        postgresql_where=sa.text("active"),
    )
    op.drop_index(op.f("ix_partner_webhook_partner_key"), table_name="partner_webhook")
    op.drop_table("partner_webhook")
