"""reliability and security: idempotent requests, report keys per reporter, secret links
that expire and are revoked one by one

- ``idempotent_request``: the first answer to each (tenant, Idempotency-Key).
- ``failure_report.reported_by_partner_id``: the partner that filed a report through the
  API (NULL: the operator's own feed, i.e. imports, telemetry, technicians, support
  leads); ``report_key`` is unique per reporter instead of globally, so a partner can no
  longer squat a key another partner or the telemetry feed will use. Existing reports
  get their reporter from the audit trail (the partner key that filed them).
- ``secret_link``: several links per owner, each with an expiry, a revocation time, who
  made it, and the nonce its token is derived from (so the same link can be sent again);
  existing links keep working until a year after they were made.
- ``app_secret``: the key tokens are derived with when FIELDRECALL_SECRET_KEY is unset.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotent_request",
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant", "key", name=op.f("pk_idempotent_request")),
    )

    op.add_column(
        "failure_report", sa.Column("reported_by_partner_id", sa.Integer(), nullable=True)
    )
    op.create_foreign_key(
        op.f("fk_failure_report_reported_by_partner_id_partner"),
        "failure_report",
        "partner",
        ["reported_by_partner_id"],
        ["id"],
    )
    op.execute(
        """
        UPDATE failure_report f SET reported_by_partner_id = k.partner_id
          FROM event e
          JOIN api_key k ON e.actor = 'partner:key' || k.id
         WHERE e.entity = 'failure_report' AND e.action = 'reported'
           AND e.entity_key = f.report_key AND k.partner_id IS NOT NULL
        """
    )
    op.drop_constraint("uq_failure_report_report_key", "failure_report", type_="unique")
    op.create_unique_constraint(
        "uq_failure_report_reporter_key",
        "failure_report",
        ["reported_by_partner_id", "report_key"],
        postgresql_nulls_not_distinct=True,
    )
    op.create_index("ix_failure_report_report_key", "failure_report", ["report_key"])

    op.drop_constraint("uq_secret_link_partner_id", "secret_link", type_="unique")
    op.drop_constraint("uq_secret_link_technician_id", "secret_link", type_="unique")
    op.alter_column("secret_link", "token_hash", existing_type=sa.String(64), nullable=True)
    op.add_column("secret_link", sa.Column("nonce", sa.String(length=64), nullable=True))
    op.add_column("secret_link", sa.Column("label", sa.String(length=200), nullable=True))
    op.add_column("secret_link", sa.Column("created_by", sa.String(length=200), nullable=True))
    op.add_column("secret_link", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("secret_link", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE secret_link SET expires_at = created_at + interval '365 days'")
    op.alter_column("secret_link", "expires_at", nullable=False)
    op.create_index(op.f("ix_secret_link_partner_id"), "secret_link", ["partner_id"])
    op.create_index(op.f("ix_secret_link_technician_id"), "secret_link", ["technician_id"])
    op.create_check_constraint(
        "token_source", "secret_link", "(nonce IS NULL) <> (token_hash IS NULL)"
    )

    op.create_table(
        "app_secret",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_app_secret")),
    )
    op.execute(
        "INSERT INTO app_secret (name, value) VALUES ('links', "
        "replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''))"
    )


def downgrade() -> None:
    op.drop_table("app_secret")
    op.drop_constraint("ck_secret_link_token_source", "secret_link", type_="check")
    op.drop_index(op.f("ix_secret_link_technician_id"), table_name="secret_link")
    op.drop_index(op.f("ix_secret_link_partner_id"), table_name="secret_link")
    # Links made after the upgrade have no stored hash and cannot survive the way back.
    op.execute("DELETE FROM secret_link WHERE token_hash IS NULL")
    for column in ("revoked_at", "expires_at", "created_by", "label", "nonce"):
        op.drop_column("secret_link", column)
    op.alter_column("secret_link", "token_hash", existing_type=sa.String(64), nullable=False)
    op.execute(
        "DELETE FROM secret_link s USING secret_link t WHERE s.id < t.id"
        " AND (s.partner_id = t.partner_id OR s.technician_id = t.technician_id)"
    )
    op.create_unique_constraint("uq_secret_link_technician_id", "secret_link", ["technician_id"])
    op.create_unique_constraint("uq_secret_link_partner_id", "secret_link", ["partner_id"])

    op.drop_index("ix_failure_report_report_key", table_name="failure_report")
    op.drop_constraint("uq_failure_report_reporter_key", "failure_report", type_="unique")
    op.create_unique_constraint("uq_failure_report_report_key", "failure_report", ["report_key"])
    op.drop_constraint(
        op.f("fk_failure_report_reported_by_partner_id_partner"),
        "failure_report",
        type_="foreignkey",
    )
    op.drop_column("failure_report", "reported_by_partner_id")

    op.drop_table("idempotent_request")
