"""Large imports: rebuild a table's secondary indexes once instead of updating them per row.

Inserting a million units spends most of its time descending B-trees row by row: the
``batch_id`` and ``site_id`` indexes in random order, and the unique ``serial`` key. Building
the same indexes afresh from the finished table costs a fraction of that. So when a file
brings at least as many rows as the table already holds, the import drops them inside its
own transaction and recreates them, from their exact stored definitions, before it
commits. A unique key is dropped and added back as a constraint, so adding it checks every
key once more (the upsert has already deduplicated the file against the table).

The price: the drop takes an ACCESS EXCLUSIVE lock on the table until the import commits,
so readers of that table wait for the import (seconds per million rows). The lock is asked
for with a short timeout; when the table is busy the import keeps the indexes and takes the
ordinary, slower path rather than queue behind (and in front of) other sessions. The
primary key, and any index a foreign key relies on, is never dropped. A failed or killed
import rolls back, indexes included.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# Below this many rows per file the per-row index updates cost less than a rebuild.
MIN_BULK_ROWS = 50_000
LOCK_TIMEOUT = "2s"
LOCK_NOT_AVAILABLE = "55P03"
# Enough to sort a few million keys in memory while an index is built.
REBUILD_MEMORY = "512MB"


def is_bulk_load(session: Session, table: str, rows: int) -> bool:
    """True when a file of ``rows`` rows is at least as large as ``table`` is now.

    Counts at most ``rows + 1`` rows of the table, so the question costs no more than the
    import itself, however large the table.
    """
    if rows < MIN_BULK_ROWS:
        return False
    current = session.scalar(
        text(f"SELECT count(*) FROM (SELECT FROM {table} LIMIT :limit) t"), {"limit": rows + 1}
    )
    return int(current or 0) <= rows


@contextmanager
def secondary_indexes_rebuilt(session: Session, table: str) -> Iterator[bool]:
    """Drop ``table``'s secondary indexes for the block, then recreate them.

    Yields whether they were dropped (False when the table's lock was not free in time).
    Run it inside the import's transaction: the drop and the rebuild commit together.
    """
    rebuilds = _rebuildable(session, table)
    if not rebuilds:
        yield False
        return
    previous = str(session.scalar(text("SELECT current_setting('lock_timeout')")))
    try:
        with session.begin_nested():
            _set_local(session, "lock_timeout", LOCK_TIMEOUT)
            for drop, _ in rebuilds:
                session.execute(text(drop))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        # Someone is using the table: keep the indexes rather than queue for the lock.
        dropped = False
    else:
        dropped = True
    finally:
        _set_local(session, "lock_timeout", previous)
    yield dropped
    if dropped:
        memory = str(session.scalar(text("SELECT current_setting('maintenance_work_mem')")))
        _set_local(session, "maintenance_work_mem", REBUILD_MEMORY)
        for _, create in rebuilds:
            session.execute(text(create))
        _set_local(session, "maintenance_work_mem", memory)


def _rebuildable(session: Session, table: str) -> list[tuple[str, str]]:
    """(drop, create) statements for every index of ``table`` but the primary key, those of
    exclusion constraints, and those a foreign key relies on; a unique constraint is dropped
    and added back as a constraint, so adding it checks the keys again."""
    rows = session.execute(
        text(
            """
            SELECT ic.relname, con.conname, pg_get_indexdef(i.indexrelid),
                   pg_get_constraintdef(con.oid)
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype = 'u'
                AND con.conrelid = i.indrelid
            WHERE i.indrelid = CAST(:t AS regclass) AND i.indisvalid
              AND NOT i.indisprimary AND NOT i.indisexclusion
              AND NOT EXISTS (SELECT 1 FROM pg_constraint fk
                              WHERE fk.contype = 'f' AND fk.conindid = i.indexrelid)
            ORDER BY ic.relname
            """
        ),
        {"t": table},
    ).all()
    return [
        (
            f"ALTER TABLE {table} DROP CONSTRAINT {constraint}",
            f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_def}",
        )
        if constraint
        else (f"DROP INDEX {index}", index_def)
        for index, constraint, index_def, constraint_def in rows
    ]


def _set_local(session: Session, name: str, value: str) -> None:
    session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
