"""CSV import: COPY into a staging table, validate every row in one set-based query,
then upsert by natural key. A file with any bad row imports nothing and every bad row is
reported with its line, column and reason. The SQL itself is compiled from the format
declarations by devices/import_sql.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.errors import ImportRejected, InvalidInput
from core.events import record_event
from devices.bulk_load import is_bulk_load, secondary_indexes_rebuilt
from devices.csv_formats import FORMATS, IMPORT_ORDER, CsvFormat
from devices.import_sql import (
    STAGING,
    TYPED,
    checks_select,
    typed_select,
    upsert_sql,
)

MAX_REPORTED_PROBLEMS = 10_000
_COPY_CHUNK = 1 << 20


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
    session: Session, kind: str, data: bytes, *, filename: str = "upload.csv", actor: str = "cli"
) -> ImportResult:
    """Import one CSV file of ``kind`` in the caller's transaction, or raise ImportRejected."""
    fmt = FORMATS.get(kind)
    if fmt is None:
        raise InvalidInput(f"unknown import kind {kind!r}; expected one of {', '.join(FORMATS)}")
    text_data = _decode(data, filename)
    header = _parse_header(fmt, text_data, filename)
    body = text_data.rstrip("\r\n\t ") + "\n"
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    with raw.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {STAGING}, {TYPED}")
        columns_sql = ", ".join(f"c{i} text" for i in range(len(header)))
        cur.execute(
            f"CREATE TEMP TABLE {STAGING} (rn bigint GENERATED ALWAYS AS IDENTITY, {columns_sql})"
        )
        rows = _copy_into_staging(cur, fmt, header, body, filename)
    previous_work_mem = session.scalar(text("SELECT current_setting('work_mem')"))
    # Sorting a large file by key in memory instead of on disk halves the upsert time.
    session.execute(text("SELECT set_config('work_mem', '256MB', true)"))
    try:
        _build_typed(session, fmt, header)
        # Temporary tables get no automatic statistics; without them the planner takes the
        # file for 200 distinct keys and re-imports walk the unit index a million times.
        session.execute(text(f"ANALYZE {TYPED}"))
        problems = _python_checks(session, fmt, header) + _sql_checks(session, fmt)
        if problems:
            _reject(fmt, filename, body, header, problems, rows)
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
            results.append(
                import_csv(session, kind, path.read_bytes(), filename=str(path), actor=actor)
            )
    if not results:
        raise InvalidInput(f"no known CSV files in {directory} (expected e.g. partners.csv)")
    return results


def _decode(data: bytes, filename: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise ImportRejected({"file": filename, "message": "the file is empty"})
    nul = data.find(b"\x00")
    bad_at = nul
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_at = exc.start if nul < 0 else min(nul, exc.start)
    if bad_at >= 0:
        line = data.count(b"\n", 0, bad_at) + 1
        column = bad_at - (data.rfind(b"\n", 0, bad_at) + 1) + 1
        raise ImportRejected(
            {
                "file": filename,
                "message": f"not UTF-8 text: byte {data[bad_at]:#04x} at line {line}, "
                f"character {column} (save the file as UTF-8)",
                "errors": [{"line": line, "column": None, "reason": "invalid UTF-8 byte"}],
            }
        )
    return decoded


def _parse_header(fmt: CsvFormat, text_data: str, filename: str) -> list[str]:
    first_line = text_data.split("\n", 1)[0]
    header = [h.strip().lower() for h in next(csv.reader([first_line]), [])]
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
    return header


def _copy_into_staging(
    cur: psycopg.Cursor[Any], fmt: CsvFormat, header: list[str], body: str, filename: str
) -> int:
    names = ", ".join(f"c{i}" for i in range(len(header)))
    encoded = body.encode()
    cur.execute("SAVEPOINT import_copy")
    try:
        with cur.copy(
            f"COPY {STAGING} ({names}) FROM STDIN (FORMAT csv, HEADER true, ENCODING 'UTF8')"
        ) as copy:
            for start in range(0, len(encoded), _COPY_CHUNK):
                copy.write(encoded[start : start + _COPY_CHUNK])
    except psycopg.Error as exc:
        # COPY stops at the first malformed line; find every one to report them all.
        cur.execute("ROLLBACK TO SAVEPOINT import_copy")
        # Python's csv reader is lenient where COPY is not (a quote left open to the end of
        # the file); read strictly only when the lenient pass finds nothing to name.
        problems = list(_structural_problems(body, len(header))) or list(
            _structural_problems(body, len(header), strict=True)
        )
        if not problems:
            problems = [RowProblem(0, None, None, f"could not read the CSV: {exc}")]
        _raise_rejected(fmt, filename, problems, None)
    cur.execute("RELEASE SAVEPOINT import_copy")
    cur.execute(f"SELECT count(*) FROM {STAGING}")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _structural_problems(body: str, width: int, *, strict: bool = False) -> Iterator[RowProblem]:
    reader = csv.reader(io.StringIO(body), strict=strict)
    next(reader, None)
    start = reader.line_num + 1
    try:
        for row in reader:
            if len(row) != width:
                found = "a blank line" if not row else f"{len(row)} fields"
                yield RowProblem(start, None, None, f"expected {width} fields, found {found}")
            start = reader.line_num + 1
    except csv.Error as exc:
        yield RowProblem(start, None, None, f"malformed CSV: {exc}")


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


def _sql_checks(session: Session, fmt: CsvFormat) -> list[RowProblem]:
    problems = []
    for rn, row_problems in session.execute(text(checks_select(fmt, MAX_REPORTED_PROBLEMS))):
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
        # Validation mirrors every database constraint; this is the safety net.
        message = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        raise ImportRejected(
            {"file": filename, "message": f"the database refused the file: {message}"}
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


def _record_lines(body: str) -> list[int]:
    """Line number on which each data record starts (index 0 = first record)."""
    reader = csv.reader(io.StringIO(body))
    next(reader, None)
    starts = []
    start = reader.line_num + 1
    for _ in reader:
        starts.append(start)
        start = reader.line_num + 1
    return starts


def _reject(
    fmt: CsvFormat,
    filename: str,
    body: str,
    header: list[str],
    problems: list[RowProblem],
    rows: int,
) -> None:
    # Record n starts on line n + 1 (after the header) unless quoted fields span lines.
    starts = _record_lines(body) if '"' in body else None
    problems = [
        RowProblem(
            starts[p.line - 1] if starts else p.line + 1,
            p.column,
            header.index(p.column) + 1 if p.column in header else None,
            p.reason,
        )
        for p in problems
    ]
    problems.sort(key=lambda p: (p.line, p.column_number or 0))
    _raise_rejected(fmt, filename, problems, rows)


def _raise_rejected(
    fmt: CsvFormat, filename: str, problems: list[RowProblem], rows: int | None
) -> None:
    bad_lines = sorted({p.line for p in problems})
    raise ImportRejected(
        {
            "file": filename,
            "kind": fmt.kind,
            "message": f"{len(bad_lines)} bad row(s); nothing was imported",
            "rows": rows,
            "bad_rows": len(bad_lines),
            "errors": [asdict(p) for p in problems[:MAX_REPORTED_PROBLEMS]],
        }
    )
