"""Exposure aggregation in PostGIS: what the detection statistics consume.

Each site takes its daily weather from its nearest station within a distance limit
(sites without one are reported). A unit is at risk from max(installed_on, window start)
to min(first failure, as-of date), both inclusive, and leaves the risk set at its first
failure. Failures, and everything per unit, are aggregated in SQL; no per-unit-day row is
ever produced, in SQL or in Python.

The unit-days avoid a units x days expansion: with C(s, b, w) the units of batch b at
station s at risk when week w starts, and N(s, w, t) the days of week w whose bin is t,

    unit_days(b, w, t) = sum over s of C(s, b, w) * N(s, w, t)
                         + the in-week part of every entry or exit during week w,

where entries (+1 on the first day at risk) and exits (-1 the day after the last one) are
grouped by station, batch and day. SQL returns C's weekly changes per (station, batch,
week), N, and the in-week part per (batch, week, bin); the sum over stations is one small
matrix product per week in numpy (``recall/exposure_product.py``), since as a SQL join it
was 13 million rows at a million units. Only failures that occurred, and weather observed, up
to the as-of date are used, so a run answers "what was known on that day".
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from recall.exposure_product import weekly_unit_days
from recall.statistics import ExposureCell, FailureSite, LogisticCell

VARIABLES = ("temp_min_c", "temp_max_c")
DEFAULT_WINDOW_DAYS = 365


@dataclass(frozen=True)
class SiteWithoutStation:
    """A site left out of a run (no station within reach, or its station has no data)."""

    site_key: str
    units: int


@dataclass(frozen=True)
class Exposure:
    """The aggregated inputs of one detection run, with what could not be used."""

    window_start: date
    as_of: date
    variable: str
    direction: str
    cells: list[ExposureCell]
    failure_sites: list[FailureSite]
    logistic_cells: list[LogisticCell]
    units_per_batch: dict[str, int]
    sites_without_station: list[SiteWithoutStation]
    # Sites whose nearest station has no observation of the variable in the window.
    sites_without_weather: list[SiteWithoutStation]
    failures_without_weather: int
    sql_seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def load_exposure(
    session: Session,
    *,
    as_of: date,
    variable: str = "temp_min_c",
    direction: Literal["below", "above"] = "below",
    window_start: date | None = None,
    max_station_km: float = 50.0,
) -> Exposure:
    """Aggregate exposure and first failures up to ``as_of`` (temporary tables, dropped)."""
    if variable not in VARIABLES:
        raise InvalidInput(f"variable must be one of {', '.join(VARIABLES)}, not {variable!r}")
    if direction not in ("below", "above"):
        raise InvalidInput(f"direction must be 'below' or 'above', not {direction!r}")
    if max_station_km <= 0:
        raise InvalidInput("the station distance limit must be positive")
    ws = window_start or _default_window_start(session, as_of)
    if ws > as_of:
        raise InvalidInput(f"the window start {ws} is after the as-of date {as_of}")
    params = {
        "ws": ws,
        "as_of": as_of,
        "max_m": max_station_km * 1000.0,
    }
    extreme = "min" if direction == "below" else "max"
    timings: dict[str, float] = {}
    started = time.perf_counter()
    previous_work_mem = session.scalar(text("SELECT current_setting('work_mem')"))
    # With the default 4 MB, the weekly grid's sorts and the final aggregation (tens of
    # millions of rows at a million units) spill to disk, which costs most of the run.
    session.execute(text("SELECT set_config('work_mem', '256MB', true)"))
    # Row estimates on fresh temporary tables are poor and inflate plan costs, which
    # triggers JIT compilation that costs more than it saves on these queries.
    previous_jit = session.scalar(text("SELECT current_setting('jit')"))
    session.execute(text("SELECT set_config('jit', 'off', true)"))
    try:
        for name, sql in _statements(variable, extreme):
            t0 = time.perf_counter()
            session.execute(text(sql), params)
            timings[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cells = _cells(session, ws, (as_of - ws).days // 7 + 1)
        timings["read_cells"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        failure_sites = [
            FailureSite(batch_key=b, site_key=s, bin_c=int(t))
            for b, s, t in session.execute(text(FAILURE_SITES_SQL))
        ]
        logistic_cells = [
            LogisticCell(batch_key=b, extreme_c=float(x), units=int(n), failed=int(f))
            for b, x, n, f in session.execute(text(LOGISTIC_SQL.format(extreme=extreme)), params)
        ]
        timings["read_logistic"] = time.perf_counter() - t0
        units_per_batch = {
            b: int(n)
            for b, n in session.execute(
                text(
                    "SELECT b.batch_key, count(*) FROM det_unit u JOIN batch b ON b.id ="
                    " u.batch_id WHERE u.start_day <= u.end_day GROUP BY b.batch_key"
                )
            )
        }
        missing = [
            SiteWithoutStation(site_key=k, units=int(n))
            for k, n in session.execute(
                text(
                    "SELECT s.site_key, count(u.id) FROM det_site s LEFT JOIN unit u"
                    " ON u.site_id = s.site_id WHERE s.station_id IS NULL"
                    " GROUP BY s.site_key ORDER BY s.site_key"
                )
            )
        ]
        no_data = [
            SiteWithoutStation(site_key=k, units=int(n))
            for k, n in session.execute(
                text(
                    "SELECT s.site_key, count(u.id) FROM det_site s LEFT JOIN unit u"
                    " ON u.site_id = s.site_id WHERE s.station_id IS NOT NULL AND NOT EXISTS"
                    " (SELECT 1 FROM det_day d WHERE d.station_id = s.station_id)"
                    " GROUP BY s.site_key ORDER BY s.site_key"
                )
            )
        ]
        no_weather = session.scalar(
            text(
                "SELECT count(*) FROM det_unit u WHERE u.failed AND NOT EXISTS"
                " (SELECT 1 FROM det_day d WHERE d.station_id = u.station_id"
                " AND d.day = u.fail_day)"
            )
        )
    finally:
        session.execute(text("DROP TABLE IF EXISTS " + ", ".join(TEMP_TABLES)))
        session.execute(
            text("SELECT set_config('work_mem', :w, true), set_config('jit', :j, true)"),
            {"w": previous_work_mem, "j": previous_jit},
        )
    return Exposure(
        window_start=ws,
        as_of=as_of,
        variable=variable,
        direction=direction,
        cells=cells,
        failure_sites=failure_sites,
        logistic_cells=logistic_cells,
        units_per_batch=units_per_batch,
        sites_without_station=missing,
        sites_without_weather=no_data,
        failures_without_weather=int(no_weather or 0),
        sql_seconds=time.perf_counter() - started,
        timings=timings,
    )


def _default_window_start(session: Session, as_of: date) -> date:
    """The first observed day within the year before ``as_of``."""
    earliest = as_of - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    first = session.scalar(
        text("SELECT min(day) FROM weather_observation WHERE day BETWEEN :lo AND :hi"),
        {"lo": earliest, "hi": as_of},
    )
    return first or earliest


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


def _statements(variable: str, extreme: str) -> list[tuple[str, str]]:
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


# The three aggregates the station-to-batch product needs (recall/exposure_product.py),
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


def _cells(session: Session, ws: date, n_weeks: int) -> list[ExposureCell]:
    params = {"ws": ws}
    st, bt, wk, dl = session.execute(text(WEEKLY_DELTAS_SQL), params).one()
    ns, nw, nb, nd = session.execute(text(DAYS_PER_BIN_SQL)).one()
    product = weekly_unit_days(
        n_weeks=n_weeks,
        delta_station=np.asarray(st, dtype=np.int64),
        delta_batch=np.asarray(bt, dtype=np.int64),
        delta_week=np.asarray(wk, dtype=np.int64),
        delta=np.asarray(dl, dtype=np.float64),
        days_station=np.asarray(ns, dtype=np.int64),
        days_week=np.asarray(nw, dtype=np.int64),
        days_bin=np.asarray(nb, dtype=np.int64),
        days=np.asarray(nd, dtype=np.float64),
    )
    merged: dict[tuple[int, int, int], list[float]] = defaultdict(lambda: [0.0, 0])
    i_idx, w_idx, k_idx = np.nonzero(product.unit_days)
    for i, w, k in zip(i_idx.tolist(), w_idx.tolist(), k_idx.tolist(), strict=True):
        key = (int(product.batch_ids[i]), w, int(product.bins_c[k]))
        merged[key][0] += float(product.unit_days[i, w, k])
    for batch_id, week, bin_c, unit_days in session.execute(text(IN_WEEK_SQL), params):
        merged[(batch_id, int(week), int(bin_c))][0] += float(unit_days)
    for batch_id, week, bin_c, failures in session.execute(text(FAILURES_SQL)):
        merged[(batch_id, int(week), int(bin_c))][1] += int(failures)
    keys: dict[int, str] = {
        int(i): str(k) for i, k in session.execute(text("SELECT id, batch_key FROM batch"))
    }
    return [
        ExposureCell(batch_key=keys[b], week=w, bin_c=t, unit_days=v[0], failures=int(v[1]))
        for (b, w, t), v in sorted(merged.items(), key=lambda kv: (keys[kv[0][0]], kv[0][1:]))
        if v[0] > 0 or v[1] > 0
    ]
