"""partner portal: the support lead's inbox also hears of a slot a partner booked itself;
a partner may have several links, revoked one by one, and the newest live one is kept so
that notices carry it

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-01

Existing inbox items keep their kinds. Existing partner links keep working; only their
hashes were stored, so notices carry a new link, made when the first one is delivered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0007"
branch_labels = None
depends_on = None

BEFORE = ("visit_confirmed", "reschedule_requested", "failure_reported", "unit_refused")
AFTER = (*BEFORE, "visit_rebooked")


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_inbox_item_kind"), "inbox_item", type_="check")
    listed = ", ".join(f"'{k}'" for k in kinds)
    op.create_check_constraint(op.f("ck_inbox_item_kind"), "inbox_item", f"kind IN ({listed})")


def upgrade() -> None:
    _kinds(AFTER)
    op.drop_constraint(op.f("uq_secret_link_partner_id"), "secret_link", type_="unique")
    op.create_index(op.f("ix_secret_link_partner_id"), "secret_link", ["partner_id"])
    op.add_column("secret_link", sa.Column("token", sa.String(length=100), nullable=True))
    op.add_column("secret_link", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM inbox_item WHERE kind = 'visit_rebooked'")
    _kinds(BEFORE)
    # One link per partner again: its newest live one stays, the others go.
    op.execute(
        "DELETE FROM secret_link l WHERE l.partner_id IS NOT NULL AND (l.revoked_at IS NOT NULL"
        " OR EXISTS (SELECT 1 FROM secret_link n WHERE n.partner_id = l.partner_id"
        " AND n.revoked_at IS NULL AND (n.created_at, n.id) > (l.created_at, l.id)))"
    )
    op.drop_column("secret_link", "revoked_at")
    op.drop_column("secret_link", "token")
    op.drop_index(op.f("ix_secret_link_partner_id"), table_name="secret_link")
    op.create_unique_constraint(op.f("uq_secret_link_partner_id"), "secret_link", ["partner_id"])
