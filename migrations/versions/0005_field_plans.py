"""field plans

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:19:31.441776
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "field_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("based_on_plan_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("progress", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("stats", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'published', 'superseded')",
            name=op.f("ck_field_plan_status"),
        ),
        sa.CheckConstraint("first_day <= last_day", name=op.f("ck_field_plan_days")),
        sa.ForeignKeyConstraint(
            ["based_on_plan_id"],
            ["field_plan.id"],
            name=op.f("fk_field_plan_based_on_plan_id_field_plan"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["recall_campaign.id"],
            name=op.f("fk_field_plan_campaign_id_recall_campaign"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_plan")),
        sa.UniqueConstraint("campaign_id", "version", name=op.f("uq_field_plan_campaign_id")),
    )
    op.create_index(
        "uq_field_plan_published",
        "field_plan",
        ["campaign_id"],
        unique=True,
        postgresql_where="status = 'published'",
    )
    op.create_table(
        "plan_route",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("departure", sa.DateTime(timezone=True), nullable=False),
        sa.Column("return_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("break_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("break_minutes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("drive_minutes", sa.Integer(), nullable=False),
        sa.Column("distance_km", sa.Double(), nullable=False),
        sa.Column("work_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["field_plan.id"], name=op.f("fk_plan_route_plan_id_field_plan")
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_plan_route_technician_id_technician"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_route")),
        sa.UniqueConstraint("plan_id", "technician_id", "day", name=op.f("uq_plan_route_plan_id")),
    )
    op.create_index(
        "ix_plan_route_technician_day", "plan_route", ["technician_id", "day"], unique=False
    )
    op.create_table(
        "plan_unassigned",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("visit_request_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["field_plan.id"], name=op.f("fk_plan_unassigned_plan_id_field_plan")
        ),
        sa.ForeignKeyConstraint(
            ["visit_request_id"],
            ["visit_request.id"],
            name=op.f("fk_plan_unassigned_visit_request_id_visit_request"),
        ),
        sa.PrimaryKeyConstraint("plan_id", "visit_request_id", name=op.f("pk_plan_unassigned")),
    )
    op.create_table(
        "plan_stop",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("visit_request_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("arrival", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drive_minutes_before", sa.Integer(), nullable=False),
        sa.Column("distance_km_before", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="planned", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('planned', 'started', 'finished')", name=op.f("ck_plan_stop_status")
        ),
        sa.CheckConstraint(
            "arrival <= service_start AND service_start <= service_end",
            name=op.f("ck_plan_stop_times"),
        ),
        sa.CheckConstraint("window_start <= window_end", name=op.f("ck_plan_stop_window")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["field_plan.id"], name=op.f("fk_plan_stop_plan_id_field_plan")
        ),
        sa.ForeignKeyConstraint(
            ["route_id"], ["plan_route.id"], name=op.f("fk_plan_stop_route_id_plan_route")
        ),
        sa.ForeignKeyConstraint(
            ["visit_request_id"],
            ["visit_request.id"],
            name=op.f("fk_plan_stop_visit_request_id_visit_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_stop")),
        sa.UniqueConstraint("plan_id", "visit_request_id", name=op.f("uq_plan_stop_plan_id")),
        sa.UniqueConstraint("route_id", "seq", name=op.f("uq_plan_stop_route_id")),
    )
    op.create_index(
        op.f("ix_plan_stop_visit_request_id"), "plan_stop", ["visit_request_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_plan_stop_visit_request_id"), table_name="plan_stop")
    op.drop_table("plan_stop")
    op.drop_table("plan_unassigned")
    op.drop_index("ix_plan_route_technician_day", table_name="plan_route")
    op.drop_table("plan_route")
    op.drop_index(
        "uq_field_plan_published", table_name="field_plan", postgresql_where="status = 'published'"
    )
    op.drop_table("field_plan")
