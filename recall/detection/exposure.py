"""Exposure aggregation in PostGIS: what the detection statistics consume.

Each site takes its daily weather from its nearest station within a distance limit
(sites without one are reported). A unit is at risk from max(installed_on, window start)
to min(first failure, as-of date), both inclusive, and leaves the risk set at its first
failure. Failures, and everything per unit, are aggregated in SQL; no per-unit-day row is
ever produced, in SQL or in Python.

The unit-days per batch, day and temperature bin avoid a units x days expansion: SQL
groups the units' entries (+1 on the first day at risk) and exits (-1 the day after the
last one) by station, batch and day, and reads each station's bin per observed day. The
units of a batch at risk at a station on a day are then a running sum of those changes,
and the sum over stations is one small matrix product per day in numpy
(``exposure_product.py``). Only failures that occurred, and weather observed, up to the
as-of date are used, so a run answers "what was known on that day". The SQL itself is in
``exposure_sql.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from recall.detection import exposure_sql
from recall.detection.exposure_product import daily_unit_days
from recall.detection.inputs import DetectionInput, IntArray

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
    inputs: DetectionInput
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
    params = {"ws": ws, "as_of": as_of, "max_m": max_station_km * 1000.0}
    timings: dict[str, float] = {}
    started = time.perf_counter()
    previous_work_mem = session.scalar(text("SELECT current_setting('work_mem')"))
    # With the default 4 MB, the sorts and aggregations over millions of units spill to
    # disk, which costs most of the run.
    session.execute(text("SELECT set_config('work_mem', '256MB', true)"))
    # Row estimates on fresh temporary tables are poor and inflate plan costs, which
    # triggers JIT compilation that costs more than it saves on these queries.
    previous_jit = session.scalar(text("SELECT current_setting('jit')"))
    session.execute(text("SELECT set_config('jit', 'off', true)"))
    try:
        for name, sql in exposure_sql.statements(variable):
            t0 = time.perf_counter()
            session.execute(text(sql), params)
            timings[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        inputs = _inputs(session, ws, (as_of - ws).days + 1)
        timings["read_and_product"] = time.perf_counter() - t0
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
        no_weather = session.scalar(text(exposure_sql.FAILURES_WITHOUT_WEATHER_SQL))
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
        inputs=inputs,
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


def _arrays(session: Session, sql: str, params: dict[str, object] | None = None) -> list[IntArray]:
    row = session.execute(text(sql), params or {}).one()
    return [np.asarray(col) for col in row]


def _inputs(session: Session, ws: date, n_days: int) -> DetectionInput:
    """Read the aggregates back and build the statistics' arrays (batches by key)."""
    st, bt, dy, dl = _arrays(session, exposure_sql.EVENTS_SQL, {"ws": ws})
    ost, ody, obin = _arrays(session, exposure_sql.OBSERVED_DAYS_SQL)
    product = daily_unit_days(
        n_days=n_days,
        event_station=st.astype(np.int64),
        event_batch=bt.astype(np.int64),
        event_day=dy.astype(np.int64),
        event_delta=dl.astype(np.float64),
        obs_station=ost.astype(np.int64),
        obs_day=ody.astype(np.int64),
        obs_bin=obin.astype(np.int64),
    )
    fb, fd, fk, fs = (a.astype(np.int64) for a in _arrays(session, exposure_sql.FAILURES_SQL))
    units: dict[int, int] = {
        int(b): int(n) for b, n in session.execute(text(exposure_sql.UNITS_PER_BATCH_SQL))
    }
    keys: dict[int, str] = {
        int(i): str(k) for i, k in session.execute(text("SELECT id, batch_key FROM batch"))
    }
    ids = sorted(set(units) | {int(b) for b in product.batch_ids}, key=lambda i: keys[i])
    row_of = {batch_id: i for i, batch_id in enumerate(ids)}
    bins_c = np.unique(np.concatenate([product.bins_c, fk]))
    unit_days = np.zeros((len(ids), n_days, bins_c.size))
    rows = np.array([row_of[int(b)] for b in product.batch_ids], dtype=np.int64)
    cols = np.searchsorted(bins_c, product.bins_c)
    if rows.size and cols.size:
        unit_days[np.ix_(rows, np.arange(n_days), cols)] = product.unit_days
    failures = np.zeros_like(unit_days)
    f_rows = np.array([row_of[int(b)] for b in fb], dtype=np.int64)
    np.add.at(failures, (f_rows, fd, np.searchsorted(bins_c, fk)), 1.0)
    return DetectionInput(
        batch_keys=tuple(keys[i] for i in ids),
        bins_c=bins_c.astype(np.int64),
        unit_days=unit_days,
        failures=failures,
        units=np.array([float(units.get(i, 0)) for i in ids]),
        site_batch=f_rows,
        site_code=fs,
        site_bin=fk,
        site_day=fd,
        first_day=ws,
    )
