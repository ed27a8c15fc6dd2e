"""CSV import: COPY into a staging table, validate every row in one set-based query,
then upsert by natural key. A file with any bad row imports nothing and every bad row is
reported with its line, column and reason.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.errors import ImportRejected, InvalidInput
from core.events import record_event
from devices.csv_formats import DATE_BOUNDS, FORMATS, IMPORT_ORDER, Column, CsvFormat

STAGING = "import_staging"
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
        cur.execute(f"DROP TABLE IF EXISTS {STAGING}")
        columns_sql = ", ".join(f"c{i} text" for i in range(len(header)))
        cur.execute(
            f"CREATE TEMP TABLE {STAGING} (rn bigint GENERATED ALWAYS AS IDENTITY, {columns_sql})"
        )
        rows = _copy_into_staging(cur, fmt, header, body, filename)
    try:
        problems = _python_checks(session, fmt, header) + _sql_checks(session, fmt, header)
        if problems:
            _reject(fmt, filename, body, header, problems, rows)
        inserted, updated = _upsert(session, fmt, header, filename)
    finally:
        session.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
    result = ImportResult(fmt.kind, filename, rows, inserted, updated, rows - inserted - updated)
    record_event(
        session,
        actor=actor,
        entity="import",
        entity_key=filename,
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
        problems = list(_structural_problems(body, len(header)))
        if not problems:
            problems = [RowProblem(0, None, None, f"could not read the CSV: {exc}")]
        _raise_rejected(fmt, filename, problems, None)
    cur.execute("RELEASE SAVEPOINT import_copy")
    cur.execute(f"SELECT count(*) FROM {STAGING}")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _structural_problems(body: str, width: int) -> Iterator[RowProblem]:
    reader = csv.reader(io.StringIO(body))
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


def _clean_select(fmt: CsvFormat, header: list[str]) -> str:
    parts = ["rn"]
    for col in fmt.columns:
        if col.name in header:
            parts.append(f"NULLIF(btrim(c{header.index(col.name)}), '') AS {col.name}")
        else:
            parts.append(f"NULL::text AS {col.name}")
    return f"SELECT {', '.join(parts)} FROM {STAGING}"


def _column_rules(col: Column) -> list[tuple[str, str]]:
    """(bad condition, reason) pairs in SQL for one column of the cleaned row ``s``."""
    v = f"s.{col.name}"
    shown = f"quote_literal(left({v}, 60))"
    rules: list[tuple[str, str]] = []
    if col.required:
        rules.append((f"{v} IS NULL", "'is required'"))
    rules.append((f"length({v}) > {col.max_len}", f"'is longer than {col.max_len} characters'"))
    lo, hi = DATE_BOUNDS
    if col.type == "float":
        rules.append((f"NOT fr_is_number({v})", f"'is not a number: ' || {shown}"))
        if col.min is not None and col.max is not None:
            rules.append(
                (
                    f"CASE WHEN fr_is_number({v}) THEN {v}::float8 NOT BETWEEN {col.min} AND "
                    f"{col.max} END",
                    f"'is out of range [{col.min:g}, {col.max:g}]: ' || {v}",
                )
            )
    elif col.type == "date":
        rules.append((f"NOT fr_is_date({v})", f"'is not a date (YYYY-MM-DD): ' || {shown}"))
        rules.append(
            (
                f"CASE WHEN fr_is_date({v}) THEN {v}::date NOT BETWEEN '{lo}' AND '{hi}' END",
                f"'is outside {lo}..{hi}: ' || {v}",
            )
        )
    elif col.type == "timestamptz":
        rules.append(
            (
                f"NOT fr_is_timestamptz({v})",
                "'is not a timestamp with time zone (e.g. 2026-10-03T07:15:00+03:00): ' || "
                + shown,
            )
        )
        rules.append(
            (
                f"CASE WHEN fr_is_timestamptz({v}) THEN {v}::timestamptz NOT BETWEEN '{lo}' AND "
                f"'{hi}' END",
                f"'is outside {lo}..{hi}: ' || {v}",
            )
        )
    elif col.type == "time":
        rules.append((f"NOT fr_is_hhmm({v})", f"'is not a time (HH:MM): ' || {shown}"))
    if col.choices:
        allowed = ", ".join(f"'{c}'" for c in col.choices)
        rules.append(
            (
                f"{v} NOT IN ({allowed})",
                f"'must be one of {'/'.join(col.choices)}, not ' || {shown}",
            )
        )
    return rules


def _sql_checks(session: Session, fmt: CsvFormat, header: list[str]) -> list[RowProblem]:
    checks: list[tuple[str, str, str]] = []
    for col in fmt.columns:
        checks += [(col.name, bad, reason) for bad, reason in _column_rules(col)]
    for ref in fmt.references:
        checks.append(
            (
                ref.column,
                f"s.{ref.column} IS NOT NULL AND {ref.alias}.id IS NULL",
                f"'unknown {ref.column} ' || quote_literal(left(s.{ref.column}, 60))"
                f" || ' (no such {ref.table.replace('_', ' ')})'",
            )
        )
    checks += [(rule.column, rule.bad, rule.reason) for rule in fmt.rules]
    cases = ",\n".join(
        f"CASE WHEN coalesce(({bad}), false) THEN '{name}' || E'\\t' || ({reason}) END"
        for name, bad, reason in checks
    )
    joins = " ".join(
        f"LEFT JOIN {r.table} {r.alias} ON {r.alias}.{r.key} = s.{r.column}" for r in fmt.references
    )
    sql = f"""
        WITH src AS ({_clean_select(fmt, header)})
        SELECT rn, problems FROM (
            SELECT s.rn, array_remove(ARRAY[{cases}], NULL) AS problems FROM src s {joins}
        ) checked
        WHERE cardinality(problems) > 0 ORDER BY rn LIMIT {MAX_REPORTED_PROBLEMS}
    """
    problems = []
    for rn, row_problems in session.execute(text(sql)):
        for item in row_problems:
            column, _, reason = item.partition("\t")
            problems.append(_problem(header, rn, column, reason))
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


def _upsert(session: Session, fmt: CsvFormat, header: list[str], filename: str) -> tuple[int, int]:
    sql = f"""
        WITH src AS ({_clean_select(fmt, header)}),
        up AS ({fmt.upsert} RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
    """
    try:
        with session.begin_nested():
            inserted, updated = session.execute(text(sql)).one()
    except DBAPIError as exc:
        # Validation mirrors every database constraint; this is the safety net.
        message = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        raise ImportRejected(
            {"file": filename, "message": f"the database refused the file: {message}"}
        ) from exc
    return int(inserted), int(updated)


def _problem(header: list[str], rn: int, column: str, reason: str) -> RowProblem:
    number = header.index(column) + 1 if column in header else None
    # rn counts data records from 1; the header is line 1. _reject maps records to lines
    # exactly when quoted fields span lines.
    return RowProblem(int(rn), column, number, reason)


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
    if '"' in body:
        starts = _record_lines(body)
        problems = [
            RowProblem(starts[p.line - 1], p.column, p.column_number, p.reason) for p in problems
        ]
    else:
        problems = [RowProblem(p.line + 1, p.column, p.column_number, p.reason) for p in problems]
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
