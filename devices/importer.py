"""CSV import: stream the file into a staging table with COPY (devices/csv_stream.py reads
it: RFC 4180, a comma or a semicolon, in chunks, so memory does not grow with the file),
validate every row in one set-based query, then upsert by natural key. A file with any
bad row imports nothing; every bad row is counted, and its problems are listed with line,
column and reason (the first ``FIELDRECALL_IMPORT_MAX_LISTED_ERRORS`` of them). The SQL
itself is compiled from the format declarations by devices/import_sql.py.
"""

from __future__ import annotations

import io
import logging
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.errors import ImportRejected, InvalidInput
from core.events import record_event
from core.settings import get_settings
from devices.bulk_load import is_bulk_load, secondary_indexes_rebuilt
from devices.csv_formats import FORMATS, IMPORT_ORDER, CsvFormat
from devices.csv_stream import CsvFile, open_csv
from devices.import_sql import (
    STAGING,
    TYPED,
    checks_count,
    checks_select,
    typed_select,
    upsert_sql,
)

log = logging.getLogger("fieldrecall.import")


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str | None
    column_number: int | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.column:
            where += f", column {self.column_number} ({self.column})"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ImportResult:
    kind: str
    file: str
    rows: int
    inserted: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_csv(
    session: Session,
    kind: str,
    data: bytes | BinaryIO,
    *,
    filename: str = "upload.csv",
    actor: str = "cli",
) -> ImportResult:
    """Import one CSV file of ``kind`` (its bytes, or a seekable binary file, which is read
    as a stream) in the caller's transaction, or raise ImportRejected."""
    fmt = FORMATS.get(kind)
    if fmt is None:
        raise InvalidInput(f"unknown import kind {kind!r}; expected one of {', '.join(FORMATS)}")
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    csv_file = open_csv(source, filename, fmt.header)
    header = csv_file.header
    _check_header(fmt, header, filename)
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    with raw.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {STAGING}, {TYPED}")
        columns_sql = ", ".join(f"c{i} text" for i in range(len(header)))
        cur.execute(
            f"CREATE TEMP TABLE {STAGING} (rn bigint GENERATED ALWAYS AS IDENTITY, {columns_sql})"
        )
        rows = _copy_into_staging(cur, fmt, csv_file)
    previous_work_mem = session.scalar(text("SELECT current_setting('work_mem')"))
    # Sorting a large file by key in memory instead of on disk halves the upsert time.
    session.execute(text("SELECT set_config('work_mem', '256MB', true)"))
    try:
        _build_typed(session, fmt, header)
        # Temporary tables get no automatic statistics; without them the planner takes the
        # file for 200 distinct keys and re-imports walk the unit index a million times.
        session.execute(text(f"ANALYZE {TYPED}"))
        _reject_bad_rows(session, fmt, csv_file, rows)
        inserted, updated = _upsert(session, fmt, filename, rows)
    finally:
        session.execute(text(f"DROP TABLE IF EXISTS {STAGING}, {TYPED}"))
        session.execute(
            text("SELECT set_config('work_mem', :value, true)"), {"value": previous_work_mem}
        )
    result = ImportResult(fmt.kind, filename, rows, inserted, updated, rows - inserted - updated)
    record_event(
        session,
        actor=actor,
        entity="import",
        # The column holds 200 characters; a deep path keeps its informative end.
        entity_key=filename if len(filename) <= 200 else "..." + filename[-197:],
        action=f"import_{fmt.kind}",
        data=result.as_dict(),
    )
    return result


def import_directory(
    session: Session, directory: Path, *, actor: str = "cli"
) -> list[ImportResult]:
    """Import every ``<kind>.csv`` present in ``directory``, in reference order."""
    results = []
    for kind in IMPORT_ORDER:
        path = directory / f"{kind}.csv"
        if path.exists():
            with path.open("rb") as file:
                results.append(import_csv(session, kind, file, filename=str(path), actor=actor))
    if not results:
        raise InvalidInput(f"no known CSV files in {directory} (expected e.g. partners.csv)")
    return results


def _check_header(fmt: CsvFormat, header: list[str], filename: str) -> None:
    problems = []
    duplicates = sorted({h for h in header if h and header.count(h) > 1})
    if duplicates:
        problems.append(f"duplicate header columns: {', '.join(duplicates)}")
    missing = [c for c in fmt.required if c not in header]
    if missing:
        problems.append(
            f"missing required columns: {', '.join(missing)} "
            f"(a {fmt.kind} file needs {', '.join(fmt.required)})"
        )
    if problems:
        raise ImportRejected(
            {
                "file": filename,
                "message": "; ".join(problems),
                "errors": [{"line": 1, "column": None, "reason": p} for p in problems],
            }
        )


def _copy_into_staging(cur: psycopg.Cursor[Any], fmt: CsvFormat, csv_file: CsvFile) -> int:
    names = ", ".join(f"c{i}" for i in range(len(csv_file.header)))
    delimiter = csv_file.delimiter.replace("'", "''")
    cur.execute("SAVEPOINT import_copy")
    try:
        with cur.copy(
            f"COPY {STAGING} ({names}) FROM STDIN"
            f" (FORMAT csv, HEADER true, DELIMITER '{delimiter}', ENCODING 'UTF8')"
        ) as copy:
            for chunk in csv_file.chunks():
                copy.write(chunk)
    except ImportRejected:
        cur.execute("ROLLBACK TO SAVEPOINT import_copy")  # the file is not UTF-8 text
        raise
    except psycopg.Error:
        # COPY stops at the first malformed line; find every one to report them all.
        cur.execute("ROLLBACK TO SAVEPOINT import_copy")
        # Python's csv reader is lenient where COPY is not (a quote left open to the end of
        # the file); read strictly only when the lenient pass finds nothing to name.
        found = list(csv_file.misshapen_records()) or list(csv_file.misshapen_records(strict=True))
        problems = [RowProblem(line, None, None, reason) for line, reason in found]
        if not problems:
            problems = [RowProblem(0, None, None, "the file could not be read as CSV")]
        _raise_rejected(fmt, csv_file.filename, problems, None)
    cur.execute("RELEASE SAVEPOINT import_copy")
    cur.execute(f"SELECT count(*) FROM {STAGING}")
    row = cur.fetchone()
    return int(row[0]) if row else 0


REPLICATION_ROLE = "set_config('session_replication_role', '%s', true)"


def _build_typed(session: Session, fmt: CsvFormat, header: list[str]) -> None:
    """Materialise the cleaned rows with typed columns cast once.

    Fast path: cast directly, which raises on the first unparsable value; only then take
    the slow path whose guarded casts turn every unparsable value into NULL, so that the
    checks can report each of them.
    """
    try:
        with session.begin_nested():
            session.execute(text(typed_select(fmt, header, guarded=False)))
    except DBAPIError:
        session.execute(text(typed_select(fmt, header, guarded=True)))


def _reject_bad_rows(session: Session, fmt: CsvFormat, csv_file: CsvFile, rows: int) -> None:
    """Raise ImportRejected when any row breaks a rule: every bad row is counted, and the
    first ``import_max_listed_errors`` problems are listed with line and column."""
    listed = get_settings().import_max_listed_errors
    python_problems = _python_checks(session, fmt, csv_file.header)
    sql_problems = _sql_checks(session, fmt, listed)
    if not (python_problems or sql_problems):
        return
    python_rows = sorted({p.line for p in python_problems})
    sql_bad_rows, sql_problem_count, overlap = session.execute(
        text(checks_count(fmt)), {"rns": python_rows}
    ).one()
    _reject(
        fmt,
        csv_file,
        (python_problems + sql_problems)[:listed],
        rows,
        bad_rows=int(sql_bad_rows) + len(python_rows) - int(overlap),
        problem_count=int(sql_problem_count) + len(python_problems),
    )


def _sql_checks(session: Session, fmt: CsvFormat, limit: int) -> list[RowProblem]:
    problems = []
    for rn, row_problems in session.execute(text(checks_select(fmt, limit))):
        for item in row_problems:
            column, _, reason = item.partition("\t")
            problems.append(RowProblem(int(rn), column, None, reason))
    return problems


def _python_checks(session: Session, fmt: CsvFormat, header: list[str]) -> list[RowProblem]:
    problems = []
    for col in fmt.columns:
        if col.python_check is None or col.name not in header:
            continue
        c = f"c{header.index(col.name)}"
        values = session.scalars(
            text(f"SELECT DISTINCT btrim({c}) FROM {STAGING} WHERE NULLIF(btrim({c}), '') <> ''")
        ).all()
        reasons = {v: r for v in values if (r := col.python_check(v)) is not None}
        if not reasons:
            continue
        bad_rows = session.execute(
            text(f"SELECT rn, btrim({c}) FROM {STAGING} WHERE btrim({c}) = ANY(:bad) ORDER BY rn"),
            {"bad": list(reasons)},
        )
        problems += [_problem(header, rn, col.name, reasons[value]) for rn, value in bad_rows]
    return problems


def _upsert(session: Session, fmt: CsvFormat, filename: str, rows: int) -> tuple[int, int]:
    assert fmt.upsert is not None
    table = fmt.upsert.table
    try:
        with session.begin_nested():
            skip_triggers = _lock_referenced_rows(session, fmt)
            bulk = is_bulk_load(session, table, rows)
            with secondary_indexes_rebuilt(session, table) if bulk else nullcontext():
                if skip_triggers:
                    session.execute(text(f"SELECT {REPLICATION_ROLE % 'replica'}"))
                inserted, updated = session.execute(text(upsert_sql(fmt))).one()
                if skip_triggers:
                    session.execute(text(f"SELECT {REPLICATION_ROLE % 'origin'}"))
    except DBAPIError as exc:
        # Validation mirrors every database constraint; this is the safety net. What the
        # database said names its own tables: it goes to the log, not to the caller.
        log.warning("import of %s refused by the database: %s", filename, exc.orig or exc)
        raise ImportRejected(
            {
                "file": filename,
                "message": "the file conflicts with data stored meanwhile (another import "
                "of the same keys?); nothing was imported, try again",
            }
        ) from exc
    return int(inserted), int(updated)


def _lock_referenced_rows(session: Session, fmt: CsvFormat) -> bool:
    """Take, in one statement per reference, the locks the foreign-key triggers would take
    row by row; True when the per-row triggers may then be skipped for the upsert.

    Every reference was checked in this transaction and the parent rows are now locked
    FOR KEY SHARE until commit, so nobody can delete them or change their keys meanwhile:
    the same guarantee the RI triggers give, at a fraction of the cost on large files.
    Skipping the triggers needs the right to set session_replication_role (a superuser,
    or GRANT SET ON PARAMETER); without it the ordinary triggers run.
    """
    if not fmt.references:
        return False
    for ref in fmt.references:
        session.execute(
            text(
                f"SELECT 1 FROM {ref.table} p WHERE p.{ref.key} IN "
                f"(SELECT DISTINCT {ref.column} FROM {TYPED}) FOR KEY SHARE OF p"
            )
        )
    # The unit and failure tables carry no triggers but foreign keys; refuse to skip
    # anything should a table ever gain one.
    assert fmt.upsert is not None
    user_triggers = session.scalar(
        text(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
            " AND tgrelid = CAST(:table AS regclass)"
        ),
        {"table": fmt.upsert.table},
    )
    allowed = session.scalar(
        text("SELECT has_parameter_privilege('session_replication_role', 'SET')")
    )
    return bool(allowed) and user_triggers == 0


def _problem(header: list[str], rn: int, column: str, reason: str) -> RowProblem:
    """A problem found in staging record ``rn`` (1-based); _reject maps it to its line."""
    return RowProblem(int(rn), column, None, reason)


def _reject(
    fmt: CsvFormat,
    csv_file: CsvFile,
    problems: list[RowProblem],
    rows: int,
    *,
    bad_rows: int,
    problem_count: int,
) -> None:
    header = csv_file.header
    starts = csv_file.record_lines({p.line for p in problems})
    problems = [
        RowProblem(
            starts.get(p.line, p.line + 1),
            p.column,
            header.index(p.column) + 1 if p.column in header else None,
            p.reason,
        )
        for p in problems
    ]
    problems.sort(key=lambda p: (p.line, p.column_number or 0))
    _raise_rejected(
        fmt, csv_file.filename, problems, rows, bad_rows=bad_rows, problem_count=problem_count
    )


def _raise_rejected(
    fmt: CsvFormat,
    filename: str,
    problems: list[RowProblem],
    rows: int | None,
    *,
    bad_rows: int | None = None,
    problem_count: int | None = None,
) -> None:
    bad_rows = len({p.line for p in problems}) if bad_rows is None else bad_rows
    problem_count = len(problems) if problem_count is None else problem_count
    more = problem_count - len(problems)
    message = f"{bad_rows} bad row(s); nothing was imported"
    if more > 0:
        message += f" (the first {len(problems)} of {problem_count} problems are listed)"
    raise ImportRejected(
        {
            "file": filename,
            "kind": fmt.kind,
            "message": message,
            "rows": rows,
            "bad_rows": bad_rows,
            "problems": problem_count,
            "errors": [asdict(p) for p in problems],
        }
    )
