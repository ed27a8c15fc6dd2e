"""plan territories: a large plan solved as one job per territory, then joined

Revision ID: 0009
Revises: 0014
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing plans were solved in one job: no territories, none to count.
    op.add_column("field_plan", sa.Column("territories", sa.Integer(), nullable=True))
    op.add_column(
        "field_plan",
        sa.Column("territories_done", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_table(
        "plan_territory",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("problem", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'done')", name=op.f("ck_plan_territory_status")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["field_plan.id"], name=op.f("fk_plan_territory_plan_id_field_plan")
        ),
        sa.PrimaryKeyConstraint("plan_id", "index", name=op.f("pk_plan_territory")),
    )


def downgrade() -> None:
    op.drop_table("plan_territory")
    op.drop_column("field_plan", "territories_done")
    op.drop_column("field_plan", "territories")
