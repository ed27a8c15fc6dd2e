"""The SQL of a CSV import, compiled from the declarations in csv_formats.py.

Pure: each function takes a format (and the file's header) and returns SQL text over the
staging table (the file's raw text, columns c0..cN, record number rn) and the typed table
built from it; devices/importer.py runs the statements.
"""

from __future__ import annotations

from devices.csv_formats import DATE_BOUNDS, Column, CsvFormat

STAGING = "import_staging"
TYPED = "import_typed"

SQL_TYPES = {"float": "float8", "date": "date", "timestamptz": "timestamptz", "time": "time"}
# Guards for the slow path, which casts only text of the right shape (see the migration).
GUARDS = {
    "float": "fr_is_number",
    "date": "fr_is_date",
    "timestamptz": "fr_is_timestamptz",
    "time": "fr_is_hhmm",
}
# The strict ISO shapes the formats require; PostgreSQL's own input functions accept more
# (e.g. 'today', '2025-3-1', 'NaN', timestamps without a zone), so a cast alone is not enough.
SHAPES = {
    "float": r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "timestamptz": (
        r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}(:?\d{2})?)$"
    ),
    "time": r"^\d{2}:\d{2}(:\d{2})?$",
}
RAW = "__raw"
# Control characters (core/inputs.py) in PostgreSQL's regular expressions: in a line of
# text none at all; in free text, tab and line feed are allowed (CR is already LF).
LINE_CONTROL = r"[\x01-\x1f\x7f-\x9f]"
TEXT_CONTROL = r"[\x01-\x08\x0b-\x1f\x7f-\x9f]"


def typed_select(fmt: CsvFormat, header: list[str], *, guarded: bool) -> str:
    """Materialise the staging rows with every typed column cast once; ``guarded`` casts
    only text of the right shape, giving NULL (reported by the checks) instead of raising."""
    parts = ["rn"]
    for col in fmt.columns:
        raw = (
            f"NULLIF(btrim(c{header.index(col.name)}), '')" if col.name in header else "NULL::text"
        )
        if col.type == "text":
            parts.append(f"{raw} AS {col.name}")
            continue
        sql_type = SQL_TYPES[col.type]
        cast = f"({raw})::{sql_type}"
        if guarded:
            cast = f"CASE WHEN {GUARDS[col.type]}({raw}) THEN {cast} END"
        parts += [f"{raw} AS {col.name}{RAW}", f"{cast} AS {col.name}"]
    return f"CREATE TEMP TABLE {TYPED} AS SELECT {', '.join(parts)} FROM {STAGING}"


def column_rules(col: Column) -> list[tuple[str, str]]:
    """(bad condition, reason) pairs in SQL for one column of the typed row ``s``."""
    value = f"s.{col.name}"
    raw = value if col.type == "text" else f"s.{col.name}{RAW}"
    shown = f"quote_literal(left({raw}, 60))"
    rules: list[tuple[str, str]] = []
    if col.required:
        rules.append((f"{raw} IS NULL", "'is required'"))
    rules.append((f"length({raw}) > {col.max_len}", f"'is longer than {col.max_len} characters'"))
    if col.type == "text":
        if col.multiline:
            rules.append((f"{raw} ~ '{TEXT_CONTROL}'", "'contains a control character'"))
        else:
            rules.append(
                (
                    f"{raw} ~ '{LINE_CONTROL}'",
                    "'contains a control character (a line break, a tab or the like); "
                    "one line of text is expected'",
                )
            )
    else:
        expected = {
            "float": "a number",
            "date": "a date (YYYY-MM-DD)",
            "timestamptz": "a timestamp with time zone (e.g. 2026-10-03T07:15:00+03:00)",
            "time": "a time (HH:MM)",
        }[col.type]
        rules.append(
            (
                f"{raw} IS NOT NULL AND ({value} IS NULL OR {raw} !~ '{SHAPES[col.type]}')",
                f"'is not {expected}: ' || {shown}",
            )
        )
    if col.type == "float" and col.min is not None and col.max is not None:
        rules.append(
            (
                f"{value} NOT BETWEEN {col.min} AND {col.max}",
                f"'is out of range [{col.min:g}, {col.max:g}]: ' || {raw}",
            )
        )
    if col.type in ("date", "timestamptz"):
        lo, hi = DATE_BOUNDS
        rules.append(
            (f"{value} NOT BETWEEN '{lo}' AND '{hi}'", f"'is outside {lo}..{hi}: ' || {raw}")
        )
    if col.choices:
        allowed = ", ".join(f"'{c}'" for c in col.choices)
        rules.append(
            (
                f"{value} NOT IN ({allowed})",
                f"'must be one of {'/'.join(col.choices)}: ' || {shown}",
            )
        )
    return rules


def _checks(fmt: CsvFormat) -> list[tuple[str, str, str]]:
    """(column, bad condition, reason) for every rule of the format, in SQL."""
    checks: list[tuple[str, str, str]] = []
    for col in fmt.columns:
        checks += [(col.name, bad, reason) for bad, reason in column_rules(col)]
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
    return checks


def _any_bad(fmt: CsvFormat) -> str:
    return "\n OR ".join(f"({bad})" for _, bad, _ in _checks(fmt))


def checks_select(fmt: CsvFormat, limit: int | None) -> str:
    """One query over the typed table: every bad row with its problems, each as
    ``column<TAB>reason``, in file order (the first ``limit`` rows)."""
    cases = ",\n".join(
        f"CASE WHEN coalesce(({bad}), false) THEN '{name}' || E'\\t' || ({reason}) END"
        for name, bad, reason in _checks(fmt)
    )
    # The problem arrays are built only for rows that break a rule: on a good file the
    # query is a scan with cheap conditions, not a million arrays built and thrown away.
    return f"""
        SELECT s.rn, array_remove(ARRAY[{cases}], NULL) AS problems
        FROM {TYPED} s {reference_joins(fmt)}
        WHERE {_any_bad(fmt)}
        ORDER BY s.rn {f"LIMIT {limit}" if limit is not None else ""}
    """


def checks_count(fmt: CsvFormat) -> str:
    """How many rows break a rule, and how many problems they have in all; with the
    parameter ``rns`` (record numbers), also how many of those rows are among them."""
    return f"""
        SELECT count(*), coalesce(sum(cardinality(problems)), 0),
               count(*) FILTER (WHERE rn = ANY(:rns))
        FROM ({checks_select(fmt, None)}) q
    """


def reference_joins(fmt: CsvFormat) -> str:
    return " ".join(
        f"LEFT JOIN {r.table} {r.alias} ON {r.alias}.{r.key} = s.{r.column}" for r in fmt.references
    )


def upsert_sql(fmt: CsvFormat) -> str:
    """One statement: the last row per key (the first, for immutable kinds), an UPDATE of
    known keys whose values changed, and a plain INSERT of new keys.

    Set-based UPDATE plus anti-join INSERT costs half of INSERT ... ON CONFLICT on large
    files. A row that has not changed is not rewritten, so importing the same file twice
    touches nothing (updated_at included). Should another import insert one of the same
    new keys concurrently, the unique index refuses ours and the whole file can be retried.
    """
    up = fmt.upsert
    assert up is not None
    columns = list(up.values)
    key_exprs = ", ".join(up.values[k] for k in up.key)
    order = "s.rn" if fmt.immutable else "s.rn DESC"
    select_list = ", ".join(f"{expr} AS {col}" for col, expr in up.values.items())
    on_key = " AND ".join([f"t.{k} = l.{k}" for k in up.key] + [up.key_scope] * bool(up.key_scope))
    changing = [c for c in columns if c not in up.key]
    sets = [f"{c} = l.{c}" for c in changing] + (
        ["updated_at = now()"] if up.has_updated_at else []
    )
    update = (
        f"""upd AS (
            UPDATE {up.table} t SET {", ".join(sets)} FROM latest l
            WHERE {on_key} AND ({", ".join(f"t.{c}" for c in changing)})
                IS DISTINCT FROM ({", ".join(f"l.{c}" for c in changing)})
            RETURNING 1
        ),"""
        if not fmt.immutable and changing
        else "upd AS (SELECT 1 WHERE false),"
    )
    return f"""
        WITH latest AS MATERIALIZED (
            SELECT DISTINCT ON ({key_exprs}) {select_list}
            FROM {TYPED} s {up.joins}
            ORDER BY {key_exprs}, {order}
        ),
        {update}
        ins AS (
            INSERT INTO {up.table} ({", ".join(columns)})
            SELECT {", ".join(f"l.{c}" for c in columns)} FROM latest l
            WHERE NOT EXISTS (SELECT 1 FROM {up.table} t WHERE {on_key})
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd)
    """
