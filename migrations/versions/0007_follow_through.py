"""follow-through: waived units and revisits, visits that know when the partner was told,
closed campaigns, the support lead's inbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

Existing data is carried over:
- each unit's ``visit_attempts`` is the number of outcomes its history records;
- units left ``unable_to_access`` or ``not_found`` (final until now, so never revisited) go
  back to ``notified`` with an event, and their sites get a revisit request (the next
  attempt) in active campaigns; refused units stay refused, waiting for the lead;
- a scheduled or done visit's ``told_at`` is the first delivery of a notice with its
  current date;
- a campaign already closed (none should be) gets ``closed_at`` from its last evaluation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_STATES = (
    "'affected', 'notified', 'scheduled', 'in_progress', 'fixed', 'unable_to_access', "
    "'refused', 'not_found'"
)
NEW_STATES = OLD_STATES + ", 'waived'"
OUTCOMES = "('fixed', 'unable_to_access', 'refused', 'not_found')"
# The default of FIELDRECALL_RECALL_MAX_VISITS_PER_UNIT when this migration was written.
MAX_VISITS_PER_UNIT = 3


def _campaigns() -> None:
    op.add_column("recall_campaign", sa.Column("closed_at", sa.DateTime(timezone=True)))
    op.add_column("recall_campaign", sa.Column("closed_by", sa.String(length=200)))
    op.add_column("recall_campaign", sa.Column("close_note", sa.Text()))
    op.execute(
        "UPDATE recall_campaign SET closed_at = last_evaluated_at, closed_by = 'migration 0007'"
        " WHERE status = 'closed'"
    )
    op.create_check_constraint(
        op.f("ck_recall_campaign_closed"),
        "recall_campaign",
        "(status = 'closed') = (closed_at IS NOT NULL)",
    )


def _units() -> None:
    op.add_column(
        "campaign_unit",
        sa.Column("visit_attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute(
        f"""
        UPDATE campaign_unit cu SET visit_attempts = counted.n
        FROM (
            SELECT cu2.id, count(*) AS n
            FROM campaign_unit cu2 JOIN unit u ON u.id = cu2.unit_id
            JOIN event e ON e.entity = 'campaign_unit'
                        AND e.entity_key = cu2.campaign_id || ':' || u.serial
                        AND e.to_state IN {OUTCOMES}
            GROUP BY cu2.id
        ) counted
        WHERE counted.id = cu.id
        """
    )
    op.drop_constraint(op.f("ck_campaign_unit_state"), "campaign_unit", type_="check")
    op.create_check_constraint(
        op.f("ck_campaign_unit_state"), "campaign_unit", f"state IN ({NEW_STATES})"
    )


def _visits() -> None:
    op.add_column(
        "visit_request", sa.Column("attempt", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("visit_request", sa.Column("told_at", sa.DateTime(timezone=True)))
    op.drop_constraint(op.f("uq_visit_request_campaign_id"), "visit_request", type_="unique")
    op.create_unique_constraint(
        "uq_visit_request_attempt", "visit_request", ["campaign_id", "site_id", "attempt"]
    )
    op.create_index(
        "uq_visit_request_open_per_site",
        "visit_request",
        ["campaign_id", "site_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('requested', 'scheduled')"),
    )
    op.create_check_constraint(op.f("ck_visit_request_attempt"), "visit_request", "attempt >= 1")
    op.execute(
        """
        UPDATE visit_request v SET told_at = told.first
        FROM (
            SELECT v2.id, min(m.delivered_at) AS first
            FROM visit_request v2 JOIN outbox_message m
              ON m.kind IN ('visit_scheduled', 'visit_moved')
             AND m.data->>'visit_id' = v2.id::text
             AND m.data->>'scheduled_date' = v2.scheduled_date::text
             AND m.delivered_at IS NOT NULL
            WHERE v2.status IN ('scheduled', 'done')
            GROUP BY v2.id
        ) told
        WHERE told.id = v.id
        """
    )
    op.create_check_constraint(
        op.f("ck_visit_request_told_needs_date"),
        "visit_request",
        "told_at IS NULL OR status <> 'requested'",
    )


def _revisits() -> None:
    """Units that were given up as unreachable or not found come back for a revisit."""
    op.execute(
        f"""
        WITH targets AS (
            SELECT cu.id, cu.campaign_id, cu.unit_id, cu.state
            FROM campaign_unit cu JOIN recall_campaign c ON c.id = cu.campaign_id
            WHERE c.status = 'active'
              AND cu.state IN ('unable_to_access', 'not_found')
              AND cu.visit_attempts < {MAX_VISITS_PER_UNIT}
        ), moved AS (
            UPDATE campaign_unit cu SET state = 'notified', state_changed_at = now()
            FROM targets t WHERE t.id = cu.id
        )
        INSERT INTO event (actor, entity, entity_key, action, from_state, to_state, reason, data)
        SELECT 'migration 0007', 'campaign_unit', t.campaign_id || ':' || u.serial,
               'state_changed', t.state, 'notified',
               'revisit: no unit is left behind (the state was final before migration 0007)',
               jsonb_build_object('campaign_id', t.campaign_id)
        FROM targets t JOIN unit u ON u.id = t.unit_id
        """
    )
    op.execute(
        """
        INSERT INTO visit_request (campaign_id, site_id, partner_id, attempt, unit_count,
                                   estimated_minutes, priority_rank)
        SELECT cu.campaign_id, cu.site_id, min(cu.partner_id),
               (SELECT max(v.attempt) FROM visit_request v
                WHERE v.campaign_id = cu.campaign_id AND v.site_id = cu.site_id) + 1,
               count(*), min(c.minutes_per_visit) + min(c.minutes_per_unit) * count(*),
               (SELECT coalesce(max(v.priority_rank), 0) FROM visit_request v
                WHERE v.campaign_id = cu.campaign_id) + 1
        FROM campaign_unit cu JOIN recall_campaign c ON c.id = cu.campaign_id
        WHERE c.status = 'active'
          AND cu.state IN ('affected', 'notified', 'scheduled', 'in_progress')
          AND EXISTS (SELECT 1 FROM visit_request v
                      WHERE v.campaign_id = cu.campaign_id AND v.site_id = cu.site_id)
          AND NOT EXISTS (SELECT 1 FROM visit_request v
                          WHERE v.campaign_id = cu.campaign_id AND v.site_id = cu.site_id
                            AND v.status IN ('requested', 'scheduled'))
        GROUP BY cu.campaign_id, cu.site_id
        """
    )


def _inbox() -> None:
    op.create_table(
        "inbox_item",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.BigInteger(), nullable=True),
        sa.Column("failure_report_id", sa.BigInteger(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "kind IN ('visit_confirmed', 'reschedule_requested', 'failure_reported',"
            " 'unit_refused')",
            name=op.f("ck_inbox_item_kind"),
        ),
        sa.CheckConstraint(
            "(read_at IS NULL) = (read_by IS NULL)", name=op.f("ck_inbox_item_read")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["recall_campaign.id"],
            name=op.f("fk_inbox_item_campaign_id_recall_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["failure_report_id"],
            ["failure_report.id"],
            name=op.f("fk_inbox_item_failure_report_id_failure_report"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_inbox_item_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_inbox_item_unit_id_unit")),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit_request.id"], name=op.f("fk_inbox_item_visit_id_visit_request")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_item")),
    )
    op.create_index(
        "uq_inbox_item_failure_report",
        "inbox_item",
        ["failure_report_id"],
        unique=True,
        postgresql_where=sa.text("failure_report_id IS NOT NULL"),
    )
    op.create_index(
        "ix_inbox_item_unread",
        "inbox_item",
        ["created_at"],
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_index("ix_inbox_item_partner_id", "inbox_item", ["partner_id", "created_at"])


def upgrade() -> None:
    _campaigns()
    _units()
    _visits()
    _revisits()
    _inbox()


def downgrade() -> None:
    # Revisits and waived units have no place in the old schema: refuse rather than
    # silently drop visits or invent outcomes.
    conn = op.get_bind()
    revisits = conn.scalar(sa.text("SELECT count(*) FROM visit_request WHERE attempt > 1"))
    waived = conn.scalar(sa.text("SELECT count(*) FROM campaign_unit WHERE state = 'waived'"))
    if revisits or waived:
        raise RuntimeError(
            f"cannot downgrade below 0007: {revisits} revisit request(s) and {waived} waived "
            "unit(s) exist, which the older schema cannot hold"
        )
    op.drop_table("inbox_item")
    op.drop_constraint(op.f("ck_visit_request_told_needs_date"), "visit_request", type_="check")
    op.drop_constraint(op.f("ck_visit_request_attempt"), "visit_request", type_="check")
    op.drop_index("uq_visit_request_open_per_site", table_name="visit_request")
    op.drop_constraint("uq_visit_request_attempt", "visit_request", type_="unique")
    op.create_unique_constraint(
        op.f("uq_visit_request_campaign_id"), "visit_request", ["campaign_id", "site_id"]
    )
    op.drop_column("visit_request", "told_at")
    op.drop_column("visit_request", "attempt")
    op.drop_constraint(op.f("ck_campaign_unit_state"), "campaign_unit", type_="check")
    op.create_check_constraint(
        op.f("ck_campaign_unit_state"), "campaign_unit", f"state IN ({OLD_STATES})"
    )
    op.drop_column("campaign_unit", "visit_attempts")
    op.drop_constraint(op.f("ck_recall_campaign_closed"), "recall_campaign", type_="check")
    for column in ("close_note", "closed_by", "closed_at"):
        op.drop_column("recall_campaign", column)
