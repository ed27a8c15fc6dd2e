"""field app: the support lead's inbox keeps technicians' field conflicts

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-02

A technician's phone records outcomes offline and sends them later; one the server cannot
apply (the unit already has another outcome, the visit moved to another technician) is
kept as an inbox item of the new kind ``field_conflict``. Existing items keep their kinds;
nothing else changes.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_KINDS = "'visit_confirmed', 'reschedule_requested', 'failure_reported', 'unit_refused'"
NEW_KINDS = OLD_KINDS + ", 'field_conflict'"


def _kinds(kinds: str) -> None:
    op.drop_constraint(op.f("ck_inbox_item_kind"), "inbox_item", type_="check")
    op.create_check_constraint(op.f("ck_inbox_item_kind"), "inbox_item", f"kind IN ({kinds})")


def upgrade() -> None:
    _kinds(NEW_KINDS)


def downgrade() -> None:
    # The older schema has no place for a field conflict: refuse rather than drop what a
    # technician recorded.
    conn = op.get_bind()
    kept = conn.exec_driver_sql(
        "SELECT count(*) FROM inbox_item WHERE kind = 'field_conflict'"
    ).scalar()
    if kept:
        raise RuntimeError(
            f"cannot downgrade below 0013: {kept} field conflict(s) are in the inbox, which "
            "the older schema cannot hold"
        )
    _kinds(OLD_KINDS)
