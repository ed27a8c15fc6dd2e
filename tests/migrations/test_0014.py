"""Migration 0014 lets the inbox hear of a slot a partner booked itself; a downgrade that
would lose such an item is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.db import alembic_config, upgrade
from tests.migrations.scratch import database_at

ITEM = "INSERT INTO inbox_item (kind, partner_id, summary, actor) VALUES (:kind, 1, 's', 'a')"


@pytest.fixture
def at_0013(engine: Engine) -> Iterator[tuple[str, Engine]]:
    with database_at(engine, "0013") as made:
        yield made


def test_rebooked_visits_join_the_inbox_and_are_never_dropped(
    at_0013: tuple[str, Engine],
) -> None:
    url, db = at_0013
    with db.begin() as conn:
        conn.execute(text("INSERT INTO partner (id, partner_key, name) VALUES (1, 'PA', 'A')"))
        conn.execute(text(ITEM), {"kind": "field_conflict"})
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(text(ITEM), {"kind": "visit_rebooked"})

    upgrade(url, "0014")
    with db.begin() as conn:
        conn.execute(text(ITEM), {"kind": "visit_rebooked"})
        kinds = conn.scalars(text("SELECT kind FROM inbox_item ORDER BY id")).all()
    assert kinds == ["field_conflict", "visit_rebooked"]

    with pytest.raises(RuntimeError, match="1 rebooked visit"):
        command.downgrade(alembic_config(url), "0013")
    with db.begin() as conn:
        conn.execute(text("DELETE FROM inbox_item WHERE kind = 'visit_rebooked'"))
    command.downgrade(alembic_config(url), "0013")
    with db.begin() as conn:
        assert conn.scalars(text("SELECT kind FROM inbox_item")).all() == ["field_conflict"]
