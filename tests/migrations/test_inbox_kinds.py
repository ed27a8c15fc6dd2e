"""Migrations 0013 and 0014 each let the inbox keep a new kind of item (a technician's
field conflict, a slot a partner booked itself): existing items stay as they are, the
new kind is accepted, and a downgrade that would lose one is refused."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.db import alembic_config, upgrade
from tests.migrations.scratch import database_at

ITEM = "INSERT INTO inbox_item (kind, partner_id, summary, actor) VALUES (:kind, 1, 's', 'a')"


@pytest.mark.parametrize(
    ("before", "after", "kept_kind", "new_kind", "refusal"),
    [
        ("0008", "0013", "unit_refused", "field_conflict", "1 field conflict"),
        ("0013", "0014", "field_conflict", "visit_rebooked", "1 rebooked visit"),
    ],
)
def test_a_new_inbox_kind_is_accepted_and_never_dropped(
    engine: Engine, before: str, after: str, kept_kind: str, new_kind: str, refusal: str
) -> None:
    with database_at(engine, before) as (url, db):
        with db.begin() as conn:
            conn.execute(text("INSERT INTO partner (id, partner_key, name) VALUES (1, 'PA', 'A')"))
            conn.execute(text(ITEM), {"kind": kept_kind})
        with pytest.raises(IntegrityError), db.begin() as conn:
            conn.execute(text(ITEM), {"kind": new_kind})

        upgrade(url, after)
        with db.begin() as conn:
            conn.execute(text(ITEM), {"kind": new_kind})
            kinds = conn.scalars(text("SELECT kind FROM inbox_item ORDER BY id")).all()
        assert kinds == [kept_kind, new_kind]

        with pytest.raises(RuntimeError, match=refusal):
            command.downgrade(alembic_config(url), before)
        with db.begin() as conn:
            conn.execute(text("DELETE FROM inbox_item WHERE kind = :kind"), {"kind": new_kind})
        command.downgrade(alembic_config(url), before)
        with db.begin() as conn:
            assert conn.scalars(text("SELECT kind FROM inbox_item")).all() == [kept_kind]
        with pytest.raises(IntegrityError), db.begin() as conn:
            conn.execute(text(ITEM), {"kind": new_kind})
