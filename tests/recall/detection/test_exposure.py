"""The SQL exposure aggregation against a brute-force count, unit by unit and day by day,
on a small demo fleet in real PostGIS."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.demo.scenario import DemoSpec, generate
from devices.importer import import_csv, import_directory
from recall.detection.exposure import load_exposure
from recall.detection.inputs import DetectionInput


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


@pytest.fixture
def small_fleet(session: Session, tmp_path: Path) -> Session:
    spec = DemoSpec(
        seed=11,
        partners=6,
        sites=40,
        towns=4,
        batches=6,
        units=600,
        stations=6,
        base_daily_hazard=4e-4,
    )
    generate(tmp_path, spec)
    import_directory(session, tmp_path)
    # A remote site far from any station, with one unit: reported, never silently used.
    import_csv(
        session,
        "sites",
        b"site_key,partner_key,name,lat,lon\nFAR1,P0001,Remote,45.0,10.0\n",
    )
    import_csv(
        session,
        "units",
        b"serial,batch_key,site_key,installed_on\nFAR-U1,B2025-01,FAR1,2025-08-01\n",
    )
    return session


def brute_force(session: Session, ws: date, as_of: date, variable: str, direction: str):
    stations = session.execute(text("SELECT id, lat, lon FROM weather_station")).all()
    sites = session.execute(text("SELECT id, lat, lon, timezone FROM site")).all()
    nearest = {}
    for sid, lat, lon, _ in sites:
        best = min(stations, key=lambda st: haversine_km(lat, lon, st.lat, st.lon))
        if haversine_km(lat, lon, best.lat, best.lon) <= 50:
            nearest[sid] = best.id
    weather = {
        (st, d): v
        for st, d, v in session.execute(
            text(f"SELECT station_id, day, {variable} FROM weather_observation")
        )
    }
    first_fail = dict(
        session.execute(
            text(
                "SELECT f.unit_id, min((f.occurred_at AT TIME ZONE s.timezone)::date)"
                " FROM failure_report f JOIN unit u ON u.id = f.unit_id"
                " JOIN site s ON s.id = u.site_id"
                " WHERE (f.occurred_at AT TIME ZONE s.timezone)::date <= :as_of"
                " GROUP BY f.unit_id"
            ),
            {"as_of": as_of},
        ).all()
    )
    unit_days: Counter = Counter()
    failures: Counter = Counter()
    units = session.execute(
        text(
            "SELECT u.id, b.batch_key, u.site_id, u.installed_on FROM unit u"
            " JOIN batch b ON b.id = u.batch_id"
        )
    ).all()
    for uid, batch, site_id, installed in units:
        station = nearest.get(site_id)
        if station is None:
            continue
        start = max(installed or ws, ws)
        fail = first_fail.get(uid)
        end = min(fail, as_of) if fail else as_of
        if start > end:
            continue
        day = start
        while day <= end:
            value = weather.get((station, day))
            if value is not None:
                unit_days[(batch, (day - ws).days, math.floor(value))] += 1
            day += timedelta(days=1)
        failed = fail is not None and fail >= start
        if failed and (station, fail) in weather:
            failures[(batch, (fail - ws).days, math.floor(weather[(station, fail)]))] += 1
    return unit_days, failures


@pytest.mark.parametrize(
    ("as_of", "variable", "direction"),
    [
        (date(2025, 12, 15), "temp_min_c", "below"),
        (date(2026, 2, 28), "temp_min_c", "below"),
        (date(2025, 10, 20), "temp_max_c", "above"),
    ],
)
def test_sql_aggregation_matches_a_brute_force_count(
    small_fleet: Session, as_of: date, variable: str, direction: str
) -> None:
    assert_matches_brute_force(small_fleet, as_of, variable, direction)


def test_days_without_an_observation_are_skipped_and_entries_on_them_still_count(
    small_fleet: Session,
) -> None:
    # Gaps at half the stations, on days when units are installed and fail.
    small_fleet.execute(
        text(
            "DELETE FROM weather_observation WHERE station_id % 2 = 0"
            " AND (extract(day FROM day)::int % 3 = 0 OR day BETWEEN '2025-12-01' AND '2025-12-09')"
        )
    )
    assert_matches_brute_force(small_fleet, date(2026, 2, 28), "temp_min_c", "below")


def assert_matches_brute_force(
    small_fleet: Session, as_of: date, variable: str, direction: str
) -> None:
    ws = date(2025, 9, 1)
    exposure = load_exposure(
        small_fleet, as_of=as_of, variable=variable, direction=direction, window_start=ws
    )
    unit_days, failures = brute_force(small_fleet, ws, as_of, variable, direction)
    assert sum(failures.values()) > 0  # the case is not trivial
    inp = exposure.inputs
    assert inp.first_day == ws and inp.n_days == (as_of - ws).days + 1
    assert list(inp.bins_c) == sorted(inp.bins_c)
    assert cells(inp, inp.unit_days) == {k: float(v) for k, v in unit_days.items()}
    assert cells(inp, inp.failures) == {k: float(v) for k, v in failures.items()}
    # One entry per first failure, on its day and in its bin.
    sites = Counter(
        (inp.batch_keys[b], int(d), int(k))
        for b, d, k in zip(inp.site_batch, inp.site_day, inp.site_bin, strict=True)
    )
    assert sites == failures
    assert [s.site_key for s in exposure.sites_without_station] == ["FAR1"]
    assert exposure.sites_without_station[0].units == 1


def cells(inp: DetectionInput, values: np.ndarray) -> dict[tuple[str, int, int], float]:
    """The non-zero (batch, day, bin) cells of a (batches, days, bins) array."""
    b, d, k = np.nonzero(values)
    return {
        (inp.batch_keys[i], int(j), int(inp.bins_c[m])): float(values[i, j, m])
        for i, j, m in zip(b, d, k, strict=True)
    }


def test_failures_after_the_as_of_date_are_not_used(small_fleet: Session) -> None:
    early = load_exposure(small_fleet, as_of=date(2025, 10, 1), window_start=date(2025, 9, 1))
    late = load_exposure(small_fleet, as_of=date(2026, 2, 28), window_start=date(2025, 9, 1))
    assert early.inputs.failures.sum() < late.inputs.failures.sum()
    assert early.inputs.n_days == (date(2025, 10, 1) - date(2025, 9, 1)).days + 1
