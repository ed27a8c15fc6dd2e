"""Migration 0013 lets the inbox keep technicians' field conflicts: existing items stay as
they are, the new kind is accepted, and a downgrade that would lose one is refused."""

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
def at_0008(engine: Engine) -> Iterator[tuple[str, Engine]]:
    with database_at(engine, "0008") as made:
        yield made


def test_field_conflicts_join_the_inbox_and_are_never_dropped(
    at_0008: tuple[str, Engine],
) -> None:
    url, db = at_0008
    with db.begin() as conn:
        conn.execute(text("INSERT INTO partner (id, partner_key, name) VALUES (1, 'PA', 'A')"))
        conn.execute(text(ITEM), {"kind": "unit_refused"})
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(text(ITEM), {"kind": "field_conflict"})

    upgrade(url, "0013")
    with db.begin() as conn:
        conn.execute(text(ITEM), {"kind": "field_conflict"})
        kinds = conn.scalars(text("SELECT kind FROM inbox_item ORDER BY id")).all()
    assert kinds == ["unit_refused", "field_conflict"]

    with pytest.raises(RuntimeError, match="1 field conflict"):
        command.downgrade(alembic_config(url), "0008")
    with db.begin() as conn:
        conn.execute(text("DELETE FROM inbox_item WHERE kind = 'field_conflict'"))
    command.downgrade(alembic_config(url), "0008")
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(text(ITEM), {"kind": "field_conflict"})
