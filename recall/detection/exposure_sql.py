"""The SQL of the exposure aggregation (``exposure.py`` runs it): the temporary tables
one statement at a time, then the aggregates read back as arrays. Table and column names
are never user input."""

from __future__ import annotations

TEMP_TABLES = ("det_site", "det_day", "det_unit", "det_event")


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
        # MATERIALIZED: computed once. With stale statistics (a table ANALYZEd while empty)
        # the planner otherwise re-runs the aggregate for every unit, for minutes.
        (
            "unit_intervals",
            """CREATE TEMP TABLE det_unit AS
            WITH first_failure AS MATERIALIZED (
                SELECT f.unit_id, min((f.occurred_at AT TIME ZONE s.timezone)::date) AS day
                FROM failure_report f
                JOIN unit u ON u.id = f.unit_id
                JOIN site s ON s.id = u.site_id
                WHERE f.occurred_at < CAST(:as_of AS date) + 2
                  AND (f.occurred_at AT TIME ZONE s.timezone)::date <= :as_of
                GROUP BY f.unit_id
            )
            SELECT u.id, u.batch_id, u.site_id, ds.station_id,
                   greatest(coalesce(u.installed_on, CAST(:ws AS date)), :ws) AS start_day,
                   least(coalesce(ff.day, CAST(:as_of AS date)), CAST(:as_of AS date))
                       AS end_day,
                   ff.day AS fail_day,
                   coalesce(ff.day >= greatest(coalesce(u.installed_on, CAST(:ws AS date)),
                                               :ws), false) AS failed
            FROM unit u
            JOIN det_site ds ON ds.site_id = u.site_id AND ds.station_id IS NOT NULL
            LEFT JOIN first_failure ff ON ff.unit_id = u.id""",
        ),
        ("analyze_units", "ANALYZE det_unit"),
        (
            "entries_exits",
            """CREATE TEMP TABLE det_event AS
            SELECT station_id, batch_id, day, sum(delta)::bigint AS delta FROM (
                SELECT station_id, batch_id, start_day AS day, 1 AS delta
                FROM det_unit WHERE start_day <= end_day
                UNION ALL
                SELECT station_id, batch_id, end_day + 1, -1
                FROM det_unit WHERE start_day <= end_day AND end_day < :as_of
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
    FROM det_unit u
    JOIN det_day d ON d.station_id = u.station_id AND d.day = u.fail_day
    WHERE u.failed
"""

UNITS_PER_BATCH_SQL = """
    SELECT batch_id, count(*) FROM det_unit WHERE start_day <= end_day GROUP BY batch_id
"""
