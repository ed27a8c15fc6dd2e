"""The SQL of the exposure aggregation (``exposure.py`` runs it): the temporary tables
one statement at a time, then the aggregates read back as arrays. Table and column names
are never user input."""

from __future__ import annotations

TEMP_TABLES = (
    "det_site",
    "det_day",
    "det_rest",
    "det_unit",
    "det_event",
    "det_n",
    "det_ext",
    "det_week",
)


def statements(variable: str, extreme: str) -> list[tuple[str, str]]:
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
            SELECT station_id, day, (day - CAST(:ws AS date)) / 7 AS week,
                   floor({variable})::int AS bin_c, {variable} AS value
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
                   least(ff.day, CAST(:as_of AS date)) AS end_day,
                   ff.day AS fail_day,
                   coalesce(ff.day >= greatest(coalesce(u.installed_on, CAST(:ws AS date)),
                                               :ws), false) AS failed
            FROM unit u
            JOIN det_site ds ON ds.site_id = u.site_id AND ds.station_id IS NOT NULL
            LEFT JOIN first_failure ff ON ff.unit_id = u.id""",
        ),
        (
            "fill_end",
            "UPDATE det_unit SET end_day = :as_of WHERE end_day IS NULL",
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
        ("analyze_events", "ANALYZE det_event"),
        (
            "rest_of_week",
            # Per station and day with an entry or exit (observed or not): the days left in
            # that week per bin. Joined to entries and exits by equality, it gives their
            # in-week part without a range probe per event.
            """CREATE TEMP TABLE det_rest AS
            SELECT c.station_id, c.day, d.week, d.bin_c, count(*)::int AS days
            FROM (SELECT DISTINCT station_id, day FROM det_event) c
            JOIN det_day d
              ON d.station_id = c.station_id
             AND d.day BETWEEN c.day
                 AND CAST(:ws AS date) + (c.day - CAST(:ws AS date)) / 7 * 7 + 6
            GROUP BY 1, 2, 3, 4""",
        ),
        (
            "days_per_bin",
            """CREATE TEMP TABLE det_n AS
            SELECT station_id, week, bin_c, count(*) AS days
            FROM det_day GROUP BY station_id, week, bin_c""",
        ),
        (
            "running_extremes",
            f"""CREATE TEMP TABLE det_ext AS
            SELECT station_id, day,
                   {extreme}(value) OVER (PARTITION BY station_id ORDER BY day) AS upto,
                   {extreme}(value) OVER (PARTITION BY station_id ORDER BY day DESC) AS from_day,
                   {extreme}(value) OVER (PARTITION BY station_id) AS whole
            FROM det_day""",
        ),
        ("index_ext", "CREATE INDEX ON det_ext (station_id, day)"),
        (
            "weekly_extremes",
            f"""CREATE TEMP TABLE det_week AS
            SELECT station_id, week, {extreme}(value) AS value FROM det_day GROUP BY 1, 2""",
        ),
        ("index_week", "CREATE INDEX ON det_week (station_id, week)"),
        ("analyze", "ANALYZE det_rest, det_n, det_ext, det_week"),
    ]


# The three aggregates the station-to-batch product needs (``exposure_product.py``),
# each returned as one row of arrays: psycopg converts arrays far faster than rows.
WEEKLY_DELTAS_SQL = """
    SELECT coalesce(array_agg(station_id), '{}'), coalesce(array_agg(batch_id), '{}'),
           coalesce(array_agg(week), '{}'), coalesce(array_agg(delta), '{}')
    FROM (SELECT station_id, batch_id, (day - CAST(:ws AS date)) / 7 AS week,
                 sum(delta)::float8 AS delta
          FROM det_event GROUP BY 1, 2, 3) w
"""

DAYS_PER_BIN_SQL = """
    SELECT coalesce(array_agg(station_id), '{}'), coalesce(array_agg(week), '{}'),
           coalesce(array_agg(bin_c), '{}'), coalesce(array_agg(days::float8), '{}')
    FROM det_n
"""

IN_WEEK_SQL = """
    SELECT e.batch_id, r.week, r.bin_c, sum(e.delta * r.days)::float8 AS unit_days
    FROM det_event e JOIN det_rest r ON r.station_id = e.station_id AND r.day = e.day
    GROUP BY e.batch_id, r.week, r.bin_c
"""

FAILURES_SQL = """
    SELECT u.batch_id, d.week, d.bin_c, count(*) AS failures
    FROM det_unit u
    JOIN det_day d ON d.station_id = u.station_id AND d.day = u.fail_day
    WHERE u.failed
    GROUP BY u.batch_id, d.week, d.bin_c
"""

FAILURE_SITES_SQL = """
    SELECT b.batch_key, s.site_key, d.bin_c
    FROM det_unit u
    JOIN det_day d ON d.station_id = u.station_id AND d.day = u.fail_day
    JOIN batch b ON b.id = u.batch_id
    JOIN site s ON s.id = u.site_id
    WHERE u.failed
    ORDER BY b.batch_key, s.site_key
"""

# A unit's most extreme value between its first day at risk and its last: the running
# extremes answer the common cases (whole window, from the start, to the as-of date)
# from one row each; only units both installed and failed inside the window scan days.
LOGISTIC_SQL = """
    WITH spans AS (
        -- the extreme depends only on the station and the span, which many units share
        SELECT DISTINCT station_id, start_day, end_day FROM det_unit WHERE start_day <= end_day
    ), extremes AS MATERIALIZED (
        SELECT p.station_id, p.start_day, p.end_day, CASE
            WHEN p.start_day = :ws AND p.end_day = :as_of THEN whole.whole
            WHEN p.start_day = :ws AND upto.upto IS NOT NULL THEN upto.upto
            WHEN p.end_day = :as_of AND from_day.from_day IS NOT NULL THEN from_day.from_day
            -- an inner span: its partial first and last weeks day by day, whole weeks
            -- between them from the weekly extremes (at most 7 + 7 rows + one per week)
            ELSE (SELECT {extreme}(x.value) FROM (
                SELECT d.value FROM det_day d
                WHERE d.station_id = p.station_id AND d.day BETWEEN p.start_day
                      AND least(p.end_day,
                                CAST(:ws AS date) + (p.start_day - CAST(:ws AS date)) / 7 * 7 + 6)
                UNION ALL
                SELECT k.value FROM det_week k
                WHERE k.station_id = p.station_id
                  AND k.week > (p.start_day - CAST(:ws AS date)) / 7
                  AND k.week < (p.end_day - CAST(:ws AS date)) / 7
                UNION ALL
                SELECT d.value FROM det_day d
                WHERE d.station_id = p.station_id AND d.day <= p.end_day
                  AND d.day >= greatest(p.start_day,
                                        CAST(:ws AS date) + (p.end_day - CAST(:ws AS date)) / 7 * 7)
            ) x WHERE x.value IS NOT NULL)
        END AS extreme
        FROM spans p
        LEFT JOIN (SELECT DISTINCT station_id, whole FROM det_ext) whole
               ON whole.station_id = p.station_id
        LEFT JOIN det_ext upto ON upto.station_id = p.station_id AND upto.day = p.end_day
        LEFT JOIN det_ext from_day
               ON from_day.station_id = p.station_id AND from_day.day = p.start_day
    ), grouped AS (
        SELECT u.batch_id, e.extreme, count(*) AS units, count(*) FILTER (WHERE u.failed) AS failed
        FROM det_unit u
        JOIN extremes e ON e.station_id = u.station_id AND e.start_day = u.start_day
                       AND e.end_day = u.end_day
        WHERE e.extreme IS NOT NULL
        GROUP BY u.batch_id, e.extreme
    )
    SELECT b.batch_key, g.extreme, g.units, g.failed
    FROM grouped g JOIN batch b ON b.id = g.batch_id
    ORDER BY b.batch_key, g.extreme
"""
