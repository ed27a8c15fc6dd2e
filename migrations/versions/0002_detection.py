"""detection runs, results, signals; procrastinate schema

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:56:03.478532
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Procrastinate's tables and functions, as shipped by the pinned library version; its
    # later releases come with SQL migrations, to be added here as new revisions.
    op.execute(SchemaManager.get_schema())
    op.create_table(
        "detection_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=True),
        sa.Column("variable", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "direction IN ('below', 'above')", name=op.f("ck_detection_run_direction")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_detection_run_status"),
        ),
        sa.CheckConstraint(
            "variable IN ('temp_min_c', 'temp_max_c')", name=op.f("ck_detection_run_variable")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_run")),
    )
    op.create_table(
        "detection_result",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("threshold_c", sa.Double(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batch.id"], name=op.f("fk_detection_result_batch_id_batch")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["detection_run.id"], name=op.f("fk_detection_result_run_id_detection_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_result")),
        sa.UniqueConstraint("run_id", "batch_id", name="uq_detection_result_run_batch"),
    )
    op.create_table(
        "signal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("variable", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="new", nullable=False),
        sa.Column("first_run_id", sa.Integer(), nullable=False),
        sa.Column("latest_result_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "status_changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("status_changed_by", sa.String(length=200), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('new', 'acknowledged', 'dismissed', 'recall_declared')",
            name=op.f("ck_signal_status"),
        ),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"], name=op.f("fk_signal_batch_id_batch")),
        sa.ForeignKeyConstraint(
            ["first_run_id"],
            ["detection_run.id"],
            name=op.f("fk_signal_first_run_id_detection_run"),
        ),
        sa.ForeignKeyConstraint(
            ["latest_result_id"],
            ["detection_result.id"],
            name=op.f("fk_signal_latest_result_id_detection_result"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal")),
    )
    op.create_index(
        "uq_signal_open_per_batch",
        "signal",
        ["batch_id", "variable", "direction"],
        unique=True,
        postgresql_where="status IN ('new', 'acknowledged')",
    )


def downgrade() -> None:
    op.drop_index(
        "uq_signal_open_per_batch",
        table_name="signal",
        postgresql_where="status IN ('new', 'acknowledged')",
    )
    op.drop_table("signal")
    op.drop_table("detection_result")
    op.drop_table("detection_run")
    for kind, name in (
        ("TABLE", "procrastinate_events"),
        ("TABLE", "procrastinate_periodic_defers"),
        ("TABLE", "procrastinate_jobs"),
        ("TABLE", "procrastinate_workers"),
    ):
        op.execute(f"DROP {kind} IF EXISTS {name} CASCADE")
