"""partner portal: the support lead's inbox also hears of a slot a partner booked itself

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

No data changes: existing inbox items keep their kinds. A downgrade that would lose a
``visit_rebooked`` item is refused.
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BEFORE = (
    "visit_confirmed",
    "reschedule_requested",
    "failure_reported",
    "unit_refused",
    "field_conflict",
)
AFTER = (*BEFORE, "visit_rebooked")


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_inbox_item_kind"), "inbox_item", type_="check")
    listed = ", ".join(f"'{k}'" for k in kinds)
    op.create_check_constraint(op.f("ck_inbox_item_kind"), "inbox_item", f"kind IN ({listed})")


def upgrade() -> None:
    _kinds(AFTER)


def downgrade() -> None:
    # The older schema has no place for a partner's own booking: refuse rather than drop
    # what the lead has not read.
    kept = (
        op.get_bind()
        .exec_driver_sql("SELECT count(*) FROM inbox_item WHERE kind = 'visit_rebooked'")
        .scalar()
    )
    if kept:
        raise RuntimeError(
            f"cannot downgrade below 0014: {kept} rebooked visit(s) are in the inbox, which "
            "the older schema cannot hold"
        )
    _kinds(BEFORE)
