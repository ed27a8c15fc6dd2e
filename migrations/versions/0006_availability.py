"""technician absences and site closures (planner inputs)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "technician_absence",
        sa.Column("technician_id", sa.Integer(), nullable=False),
        *_common(),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_technician_absence_technician_id_technician"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technician_absence")),
        sa.UniqueConstraint(
            "technician_id", "day", name=op.f("uq_technician_absence_technician_id")
        ),
    )
    op.create_table(
        "site_closure",
        sa.Column("site_id", sa.Integer(), nullable=False),
        *_common(),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_site_closure_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_closure")),
        sa.UniqueConstraint("site_id", "day", name=op.f("uq_site_closure_site_id")),
    )


def downgrade() -> None:
    op.drop_table("site_closure")
    op.drop_table("technician_absence")
