"""The SQL of the exposure aggregation (``exposure.py`` runs it): the temporary tables
one statement at a time, then the aggregates read back as arrays. Table and column names
are never user input."""

from __future__ import annotations

TEMP_TABLES = ("det_site", "det_day", "det_first", "det_failed", "det_event")
# A unit's first day at risk: installed (or the window start), not before the window start.
START_DAY = "greatest(coalesce(u.installed_on, CAST(:ws AS date)), :ws)"


def statements(variable: str) -> list[tuple[str, str]]:
    """The aggregation, one temporary table at a time (names are not user input)."""
    return [
        ("drop", "DROP TABLE IF EXISTS " + ", ".join(TEMP_TABLES)),
        (
            "nearest_station",
            """CREATE TEMP TABLE det_site AS
            SELECT s.id AS site_id, s.site_key, s.timezone, st.station_id
            FROM site s LEFT JOIN LATERAL (
                SELECT w.id AS station_id FROM weather_station w
                WHERE ST_DWithin(w.location, s.location, :max_m)
                ORDER BY w.location <-> s.location LIMIT 1
            ) st ON true""",
        ),
        (
            "weather_days",
            f"""CREATE TEMP TABLE det_day AS
            SELECT station_id, day, day - CAST(:ws AS date) AS day_index,
                   floor({variable})::int AS bin_c
            FROM weather_observation
            WHERE day BETWEEN :ws AND :as_of AND {variable} IS NOT NULL""",
        ),
        ("index_days", "CREATE INDEX ON det_day (station_id, day)"),
        # Temporary tables get no statistics from autovacuum; without them the planner
        # guesses row counts and picks nested loops over millions of rows.
        ("analyze_days", "ANALYZE det_day"),
        # Only the failed units get a row of their own (a few hundred thousand at most);
        # every unit's entry is aggregated on the fly, never stored unit by unit.
        (
            "first_failures",
            """CREATE TEMP TABLE det_first AS
            SELECT f.unit_id, min((f.occurred_at AT TIME ZONE s.timezone)::date) AS day
            FROM failure_report f
            JOIN unit u ON u.id = f.unit_id
            JOIN site s ON s.id = u.site_id
            WHERE f.occurred_at < CAST(:as_of AS date) + 2
              AND (f.occurred_at AT TIME ZONE s.timezone)::date <= :as_of
            GROUP BY f.unit_id""",
        ),
        ("analyze_first", "ANALYZE det_first"),
        (
            "failed_units",
            # A unit whose first failure came before its first day at risk is not at risk.
            f"""CREATE TEMP TABLE det_failed AS
            SELECT u.id, u.batch_id, u.site_id, ds.station_id, ff.day AS fail_day
            FROM det_first ff
            JOIN unit u ON u.id = ff.unit_id
            JOIN det_site ds ON ds.site_id = u.site_id AND ds.station_id IS NOT NULL
            WHERE ff.day >= {START_DAY}""",
        ),
        ("analyze_failed", "ANALYZE det_failed"),
        (
            "entries_exits",
            # A unit is at risk from its start day to min(first failure, as-of date): +1 on
            # the start day of every unit at risk, -1 the day after a failure before the
            # as-of date. ``entries`` keeps the +1s apart (they count the units at risk).
            f"""CREATE TEMP TABLE det_event AS
            SELECT station_id, batch_id, day, sum(delta)::bigint AS delta,
                   sum(delta) FILTER (WHERE delta > 0)::bigint AS entries
            FROM (
                SELECT ds.station_id, u.batch_id, {START_DAY} AS day, 1 AS delta
                FROM unit u
                JOIN det_site ds ON ds.site_id = u.site_id AND ds.station_id IS NOT NULL
                LEFT JOIN det_first ff ON ff.unit_id = u.id
                WHERE {START_DAY} <= least(coalesce(ff.day, CAST(:as_of AS date)),
                                           CAST(:as_of AS date))
                UNION ALL
                SELECT station_id, batch_id, fail_day + 1, -1
                FROM det_failed WHERE fail_day < :as_of
            ) e GROUP BY station_id, batch_id, day""",
        ),
    ]


# The two aggregates the station-to-batch product needs (``exposure_product.py``), each
# returned as one row of arrays: psycopg converts arrays far faster than rows.
EVENTS_SQL = """
    SELECT coalesce(array_agg(station_id), '{}'), coalesce(array_agg(batch_id), '{}'),
           coalesce(array_agg(day - CAST(:ws AS date)), '{}'),
           coalesce(array_agg(delta::float8), '{}')
    FROM det_event
"""

OBSERVED_DAYS_SQL = """
    SELECT coalesce(array_agg(station_id), '{}'), coalesce(array_agg(day_index), '{}'),
           coalesce(array_agg(bin_c), '{}')
    FROM det_day
"""

FAILURES_SQL = """
    SELECT coalesce(array_agg(u.batch_id), '{}'), coalesce(array_agg(d.day_index), '{}'),
           coalesce(array_agg(d.bin_c), '{}'), coalesce(array_agg(u.site_id), '{}')
    FROM det_failed u
    JOIN det_day d ON d.station_id = u.station_id AND d.day = u.fail_day
"""

UNITS_PER_BATCH_SQL = """
    SELECT batch_id, sum(entries) FROM det_event WHERE entries > 0 GROUP BY batch_id
"""

FAILURES_WITHOUT_WEATHER_SQL = """
    SELECT count(*) FROM det_failed u WHERE NOT EXISTS
        (SELECT 1 FROM det_day d WHERE d.station_id = u.station_id AND d.day = u.fail_day)
"""
