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
matrix product per week in numpy (``exposure_product.py``), since as a SQL join it
was 13 million rows at a million units. Only failures that occurred, and weather observed, up
to the as-of date are used, so a run answers "what was known on that day". The SQL
itself is in ``exposure_sql.py``.
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
from recall.detection import exposure_sql
from recall.detection.exposure_product import weekly_unit_days
from recall.detection.inputs import ExposureCell, FailureSite, LogisticCell

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
        for name, sql in exposure_sql.statements(variable, extreme):
            t0 = time.perf_counter()
            session.execute(text(sql), params)
            timings[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cells = _cells(session, ws, (as_of - ws).days // 7 + 1)
        timings["read_cells"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        failure_sites = [
            FailureSite(batch_key=b, site_key=s, bin_c=int(t))
            for b, s, t in session.execute(text(exposure_sql.FAILURE_SITES_SQL))
        ]
        logistic_cells = [
            LogisticCell(batch_key=b, extreme_c=float(x), units=int(n), failed=int(f))
            for b, x, n, f in session.execute(
                text(exposure_sql.LOGISTIC_SQL.format(extreme=extreme)), params
            )
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
        session.execute(text("DROP TABLE IF EXISTS " + ", ".join(exposure_sql.TEMP_TABLES)))
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


def _cells(session: Session, ws: date, n_weeks: int) -> list[ExposureCell]:
    params = {"ws": ws}
    st, bt, wk, dl = session.execute(text(exposure_sql.WEEKLY_DELTAS_SQL), params).one()
    ns, nw, nb, nd = session.execute(text(exposure_sql.DAYS_PER_BIN_SQL)).one()
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
    for batch_id, week, bin_c, unit_days in session.execute(text(exposure_sql.IN_WEEK_SQL), params):
        merged[(batch_id, int(week), int(bin_c))][0] += float(unit_days)
    for batch_id, week, bin_c, failures in session.execute(text(exposure_sql.FAILURES_SQL)):
        merged[(batch_id, int(week), int(bin_c))][1] += int(failures)
    keys: dict[int, str] = {
        int(i): str(k) for i, k in session.execute(text("SELECT id, batch_key FROM batch"))
    }
    return [
        ExposureCell(batch_key=keys[b], week=w, bin_c=t, unit_days=v[0], failures=int(v[1]))
        for (b, w, t), v in sorted(merged.items(), key=lambda kv: (keys[kv[0][0]], kv[0][1:]))
        if v[0] > 0 or v[1] > 0
    ]
