"""Large imports rebuild the secondary indexes instead of updating them row by row."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devices import bulk_load
from devices.importer import import_csv
from devices.models import Unit
from tests.fixtures import load_registry


def unit_indexes(session: Session) -> dict[str, tuple[int, str]]:
    """Index name -> (oid, definition) for the unit table; a rebuilt index has a new oid."""
    rows = session.execute(
        text(
            "SELECT c.relname, c.oid, pg_get_indexdef(c.oid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'unit'::regclass AND i.indisvalid"
        )
    )
    return {name: (int(oid), definition) for name, oid, definition in rows}


def units_file(count: int) -> bytes:
    rows = [f"BULK{i:05d},B1,SA1,2025-04-01" for i in range(count)]
    return ("serial,batch_key,site_key,installed_on\n" + "\n".join(rows) + "\n").encode()


@pytest.fixture
def small_bulk_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    # A few hundred rows stand in for a million: the path taken depends only on the sizes.
    monkeypatch.setattr(bulk_load, "MIN_BULK_ROWS", 100)


def test_a_file_larger_than_the_table_rebuilds_its_indexes_and_keeps_the_keys(
    session: Session, small_bulk_threshold: None
) -> None:
    load_registry(session)
    before = unit_indexes(session)
    result = import_csv(session, "units", units_file(500), filename="units.csv")
    after = unit_indexes(session)

    assert result.inserted == 500
    assert session.scalar(select(func.count()).where(Unit.serial.like("BULK%"))) == 500
    # Same indexes, same definitions: nothing lost in the rebuild.
    assert {n: d for n, (_, d) in after.items()} == {n: d for n, (_, d) in before.items()}
    rebuilt = {n for n in after if after[n][0] != before[n][0]}
    # The primary key stays: the foreign keys of other tables rely on it.
    assert rebuilt == {"ix_unit_batch_id", "ix_unit_site_id", "uq_unit_serial"}
    constraints = session.scalars(
        text("SELECT conname FROM pg_constraint WHERE conrelid = 'unit'::regclass")
    ).all()
    assert "uq_unit_serial" in constraints
    # The rebuilt index answers queries.
    batch_id = session.scalar(select(Unit.batch_id).where(Unit.serial == "BULK00000"))
    session.execute(text("SET LOCAL enable_seqscan = off"))
    assert session.scalar(select(func.count()).where(Unit.batch_id == batch_id)) >= 500
    # The unique key is enforced again.
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            text(
                "INSERT INTO unit (serial, batch_id, site_id)"
                " SELECT serial, batch_id, site_id FROM unit WHERE serial = 'BULK00001'"
            )
        )


def test_a_small_file_updates_the_indexes_in_place(
    session: Session, small_bulk_threshold: None
) -> None:
    load_registry(session)
    before = unit_indexes(session)
    import_csv(session, "units", units_file(50), filename="units.csv")
    assert unit_indexes(session) == before


def test_a_busy_table_keeps_its_indexes_and_the_import_still_succeeds(
    session: Session, engine: Engine, small_bulk_threshold: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_load, "LOCK_TIMEOUT", "200ms")
    load_registry(session)
    before = unit_indexes(session)
    with engine.connect() as reader, reader.begin():
        # A reader in the middle of a transaction holds a share lock on the table.
        reader.execute(text("SELECT count(*) FROM unit"))
        result = import_csv(session, "units", units_file(500), filename="units.csv")
    assert result.inserted == 500
    assert unit_indexes(session) == before
