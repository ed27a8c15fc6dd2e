"""Large imports: rebuild a table's secondary indexes once instead of updating them per row.

Inserting a million units into a table with non-unique indexes on ``batch_id`` and
``site_id`` spends most of its time descending those B-trees in random order (about 8 s of
a 12 s insert here); building the same two indexes afresh from the finished table takes
about 1 s. So when a file brings at least as many rows as the table already holds, the
import drops those indexes inside its own transaction and recreates them, from their
exact stored definitions, before it commits.

The price: DROP INDEX takes an ACCESS EXCLUSIVE lock on the table until the import
commits, so readers of that table wait for the import (seconds per million rows). The
lock is asked for with a short timeout; when the table is busy the import keeps the
indexes and takes the ordinary, slower path rather than queue behind (and in front of)
other sessions. Unique and primary-key indexes are never dropped: they enforce the keys
while the rows go in. A failed or killed import rolls back, indexes included.
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
    """Drop ``table``'s plain secondary indexes for the block, then recreate them.

    Yields whether they were dropped (False when the table's lock was not free in time).
    Run it inside the import's transaction: the drop and the rebuild commit together.
    """
    definitions = session.execute(
        text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)"
            " FROM pg_index i WHERE i.indrelid = CAST(:t AS regclass)"
            " AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion"
            " AND i.indisvalid ORDER BY 1"
        ),
        {"t": table},
    ).all()
    if not definitions:
        yield False
        return
    previous = str(session.scalar(text("SELECT current_setting('lock_timeout')")))
    try:
        with session.begin_nested():
            _set_local(session, "lock_timeout", LOCK_TIMEOUT)
            session.execute(text("DROP INDEX " + ", ".join(name for name, _ in definitions)))
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
        for _, definition in definitions:
            session.execute(text(definition))
        _set_local(session, "maintenance_work_mem", memory)


def _set_local(session: Session, name: str, value: str) -> None:
    session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
