"""recall campaigns, affected units, visit requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:59:50.914263
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recall_campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column("scope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "region",
            geoalchemy2.types.Geography(geometry_type="GEOMETRY", srid=4326, spatial_index=False),
            nullable=True,
        ),
        sa.Column("remedy", sa.Text(), nullable=False),
        sa.Column("minutes_per_unit", sa.Integer(), nullable=False),
        sa.Column("minutes_per_visit", sa.Integer(), nullable=False),
        sa.Column("required_skill", sa.String(length=100), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("priority_rule", sa.String(length=40), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("declared_by", sa.String(length=200), nullable=False),
        sa.Column(
            "declared_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_evaluated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "priority_rule IN ('coldest_then_most_units', 'most_units')",
            name=op.f("ck_recall_campaign_priority_rule"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'closed')", name=op.f("ck_recall_campaign_status")
        ),
        sa.CheckConstraint(
            "minutes_per_unit >= 0 AND minutes_per_visit >= 0",
            name=op.f("ck_recall_campaign_minutes"),
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signal.id"], name=op.f("fk_recall_campaign_signal_id_signal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_campaign")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_recall_campaign_idempotency_key")),
    )
    op.create_index(
        "ix_recall_campaign_region", "recall_campaign", ["region"], postgresql_using="gist"
    )
    op.create_table(
        "campaign_failure_report",
        sa.Column("failure_report_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "linked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["recall_campaign.id"],
            name=op.f("fk_campaign_failure_report_campaign_id_recall_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["failure_report_id"],
            ["failure_report.id"],
            name=op.f("fk_campaign_failure_report_failure_report_id_failure_report"),
        ),
        sa.PrimaryKeyConstraint("failure_report_id", name=op.f("pk_campaign_failure_report")),
    )
    op.create_index(
        op.f("ix_campaign_failure_report_campaign_id"),
        "campaign_failure_report",
        ["campaign_id"],
        unique=False,
    )
    op.create_table(
        "campaign_unit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=30), server_default="affected", nullable=False),
        sa.Column(
            "state_changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "state IN ('affected', 'notified', 'scheduled', 'in_progress', 'fixed', 'unable_to_access', 'refused', 'not_found')",
            name=op.f("ck_campaign_unit_state"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["recall_campaign.id"],
            name=op.f("fk_campaign_unit_campaign_id_recall_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_campaign_unit_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_campaign_unit_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_campaign_unit_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_unit")),
        sa.UniqueConstraint("campaign_id", "unit_id", name=op.f("uq_campaign_unit_campaign_id")),
    )
    op.create_index(
        "ix_campaign_unit_campaign_partner",
        "campaign_unit",
        ["campaign_id", "partner_id"],
        unique=False,
    )
    op.create_index(
        "ix_campaign_unit_campaign_site", "campaign_unit", ["campaign_id", "site_id"], unique=False
    )
    op.create_index(op.f("ix_campaign_unit_unit_id"), "campaign_unit", ["unit_id"], unique=False)
    op.create_table(
        "visit_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="requested", nullable=False),
        sa.Column("unit_count", sa.Integer(), nullable=False),
        sa.Column("estimated_minutes", sa.Integer(), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("recent_min_temp_c", sa.Double(), nullable=True),
        sa.Column("scheduled_date", sa.Date(), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("partner_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "blocked_dates", postgresql.ARRAY(sa.Date()), server_default="{}", nullable=False
        ),
        sa.Column(
            "preferred_windows",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("partner_note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status <> 'scheduled' OR scheduled_date IS NOT NULL",
            name=op.f("ck_visit_request_scheduled_has_date"),
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'scheduled', 'done', 'cancelled')",
            name=op.f("ck_visit_request_status"),
        ),
        sa.CheckConstraint(
            "window_start IS NULL OR window_end >= window_start",
            name=op.f("ck_visit_request_window"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["recall_campaign.id"],
            name=op.f("fk_visit_request_campaign_id_recall_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_visit_request_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_visit_request_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_visit_request_technician_id_technician"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_request")),
        sa.UniqueConstraint("campaign_id", "site_id", name=op.f("uq_visit_request_campaign_id")),
    )
    op.create_index(
        op.f("ix_visit_request_partner_id"), "visit_request", ["partner_id"], unique=False
    )

    op.create_table(
        "secret_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(partner_id IS NULL) <> (technician_id IS NULL)", name=op.f("ck_secret_link_one_owner")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_secret_link_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_secret_link_technician_id_technician"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secret_link")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_secret_link_partner_id")),
        sa.UniqueConstraint("technician_id", name=op.f("uq_secret_link_technician_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_secret_link_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("secret_link")
    op.drop_index(op.f("ix_visit_request_partner_id"), table_name="visit_request")
    op.drop_table("visit_request")
    op.drop_index(op.f("ix_campaign_unit_unit_id"), table_name="campaign_unit")
    op.drop_index("ix_campaign_unit_campaign_site", table_name="campaign_unit")
    op.drop_index("ix_campaign_unit_campaign_partner", table_name="campaign_unit")
    op.drop_table("campaign_unit")
    op.drop_index(
        op.f("ix_campaign_failure_report_campaign_id"), table_name="campaign_failure_report"
    )
    op.drop_table("campaign_failure_report")
    op.drop_index(
        "ix_recall_campaign_region", table_name="recall_campaign", postgresql_using="gist"
    )
    op.drop_table("recall_campaign")
