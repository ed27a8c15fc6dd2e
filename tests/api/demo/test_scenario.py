"""Tests of the demo scenario generator (pure; no database)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from api.demo.scenario import DemoSpec, DemoSummary, generate
from devices.csv_formats import FORMATS

SMALL = DemoSpec(
    seed=7, partners=8, sites=90, towns=5, batches=8, units=4000, stations=10, technicians=4
)


def _haversine(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def _read(d: Path, name: str) -> list[dict[str, str]]:
    with (d / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate(out, SMALL)


@pytest.fixture(scope="module")
def world(small: tuple[Path, DemoSummary]) -> dict:
    """The scenario re-derived from the CSVs alone, as a detector would see it."""
    out, _ = small
    data = {name: _read(out, name) for name in FORMATS}
    stations = data["stations"]
    st_lat = np.array([float(s["lat"]) for s in stations])
    st_lon = np.array([float(s["lon"]) for s in stations])
    site_idx = {s["site_key"]: i for i, s in enumerate(data["sites"])}
    s_lat = np.array([float(s["lat"]) for s in data["sites"]])
    s_lon = np.array([float(s["lon"]) for s in data["sites"]])
    dist = _haversine(s_lat[:, None], s_lon[:, None], st_lat[None, :], st_lon[None, :])
    days = sorted({w["day"] for w in data["weather"]})
    day_idx = {d: i for i, d in enumerate(days)}
    st_idx = {s["station_key"]: i for i, s in enumerate(stations)}
    tmin = np.full((len(stations), len(days)), np.nan)
    tmax = np.full((len(stations), len(days)), np.nan)
    for w in data["weather"]:
        tmin[st_idx[w["station_key"]], day_idx[w["day"]]] = float(w["temp_min_c"])
        tmax[st_idx[w["station_key"]], day_idx[w["day"]]] = float(w["temp_max_c"])
    return {
        **data,
        "site_idx": site_idx,
        "site_dist": dist,
        "site_station": np.argmin(dist, axis=1),
        "days": days,
        "tmin": tmin,
        "tmax": tmax,
    }


def _rates(world: dict, batch_keys: set[str], threshold: float) -> tuple[float, float]:
    """First-failure rate per unit-day on days below / not below the threshold."""
    start = date.fromisoformat(world["days"][0])
    n_days = len(world["days"])
    first: dict[str, int] = {}
    for f in world["failures"]:
        day = (datetime.fromisoformat(f["occurred_at"]).date() - start).days
        first[f["serial"]] = min(first.get(f["serial"], n_days), day)
    exp_cold = exp_warm = fail_cold = fail_warm = 0.0
    for u in world["units"]:
        if u["batch_key"] not in batch_keys:
            continue
        temps = world["tmin"][world["site_station"][world["site_idx"][u["site_key"]]]]
        begin = max(0, (date.fromisoformat(u["installed_on"]) - start).days)
        end = first.get(u["serial"], n_days - 1)
        cold = temps[begin : end + 1] < threshold
        exp_cold += cold.sum()
        exp_warm += (~cold).sum()
        if u["serial"] in first:
            if temps[end] < threshold:
                fail_cold += 1
            else:
                fail_warm += 1
    return fail_cold / exp_cold, fail_warm / exp_warm


def test_files_have_exactly_the_design_headers(small: tuple[Path, DemoSummary]) -> None:
    out, summary = small
    assert sorted(p.name for p in summary.files) == sorted(
        [f"{n}.csv" for n in FORMATS] + ["scenario.json"]
    )
    for name, fmt in FORMATS.items():
        header = list(fmt.header)  # what the importer reads (pinned to design.md there)
        with (out / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == header, name
        assert all(len(r) == len(header) for r in rows), name
        assert summary.row_counts[name] == len(rows) - 1
    assert summary.row_counts["units"] == SMALL.units
    assert summary.row_counts["weather"] == SMALL.stations * (
        (SMALL.season_end - SMALL.season_start).days + 1
    )
    assert summary.row_counts["failures"] > 0


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    spec = replace(SMALL, units=800, sites=40)
    generate(tmp_path / "a", spec)
    generate(tmp_path / "b", spec)
    generate(tmp_path / "c", replace(spec, seed=8))
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 9
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for name in ("sites.csv", "units.csv", "weather.csv", "scenario.json"):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()


def test_referential_integrity_and_keys(world: dict) -> None:
    partners = {p["partner_key"] for p in world["partners"]}
    sites = {s["site_key"] for s in world["sites"]}
    batches = {b["batch_key"]: b for b in world["batches"]}
    units = {u["serial"]: u for u in world["units"]}
    assert len(partners) == SMALL.partners and len(sites) == SMALL.sites
    assert len(units) == SMALL.units and len(batches) == SMALL.batches
    assert {s["partner_key"] for s in world["sites"]} == partners  # every partner has a site
    for u in units.values():
        assert u["batch_key"] in batches and u["site_key"] in sites
        made = date.fromisoformat(batches[u["batch_key"]]["manufactured_on"])
        assert made < date.fromisoformat(u["installed_on"]) <= SMALL.season_end
        assert u["serial"].startswith("FR-")
    report_keys = [f["report_key"] for f in world["failures"]]
    assert len(set(report_keys)) == len(report_keys)
    for f in world["failures"]:
        assert f["serial"] in units
        at = datetime.fromisoformat(f["occurred_at"])
        assert at.utcoffset() is not None
        assert SMALL.season_start <= at.date() <= SMALL.season_end
        assert at.date() >= date.fromisoformat(units[f["serial"]]["installed_on"])
        assert f["source"] in {"partner", "technician", "telemetry"}
    assert all(p["contact_email"].startswith("ops@") for p in world["partners"])
    models = {b["model"] for b in world["batches"]}
    for t in world["technicians"]:
        assert set(t["skills"].split(";")) <= {"OU-200", "OU-300", "GW-10", "KX-5"}
        assert t["shift_start"] < t["shift_end"]
    assert models <= {s for t in world["technicians"] for s in t["skills"].split(";")}
    # Some serials get a second, later report; the rest one each.
    per_serial = [f["serial"] for f in world["failures"]]
    assert len(set(per_serial)) < len(per_serial)


def test_geography_and_temperature_ranges(world: dict) -> None:
    for rows, la, lo in (
        (world["sites"], "lat", "lon"),
        (world["stations"], "lat", "lon"),
        (world["technicians"], "home_lat", "home_lon"),
    ):
        for r in rows:
            assert 62 <= float(r[la]) <= 69 and 20 <= float(r[lo]) <= 30
    assert {s["timezone"] for s in world["sites"]} <= {"Europe/Helsinki", "Europe/Stockholm"}
    tmin, tmax = world["tmin"], world["tmax"]
    assert not np.isnan(tmin).any()
    assert (tmin >= -90).all() and (tmax <= 60).all() and (tmin <= tmax).all()
    days = [date.fromisoformat(d) for d in world["days"]]
    sep = np.array([d.month == 9 for d in days])
    feb = np.array([d.month == 2 for d in days])
    assert tmin[:, sep].mean() > tmin[:, feb].mean() + 10  # the season turns cold
    assert tmin.min() < -20
    # Weather is spatially correlated: stations share day-to-day swings.
    corr = np.corrcoef(np.diff(tmin, axis=1))
    assert corr[np.triu_indices_from(corr, 1)].mean() > 0.4


def test_every_site_has_a_station_within_50_km(world: dict) -> None:
    assert world["site_dist"].min(axis=1).max() <= 50.0


def test_failures_report_ambient_near_site_temperature(world: dict) -> None:
    start = date.fromisoformat(world["days"][0])
    units = {u["serial"]: u for u in world["units"]}
    for f in world["failures"]:
        site = world["site_idx"][units[f["serial"]]["site_key"]]
        k = world["site_station"][site]
        d = (datetime.fromisoformat(f["occurred_at"]).date() - start).days
        t = float(f["ambient_temp_c"])
        assert world["tmin"][k, d] - 4 <= t <= world["tmax"][k, d] + 4


def test_cold_batch_fails_far_more_below_its_threshold(
    small: tuple[Path, DemoSummary], world: dict
) -> None:
    _, s = small
    thr = s.cold_threshold_c
    others = {b["batch_key"] for b in world["batches"]} - {s.cold_batch, s.decoy_batch}
    cold_below, cold_above = _rates(world, {s.cold_batch}, thr)
    other_below, _ = _rates(world, others, thr)
    assert cold_below > 5 * other_below
    assert cold_below > 3 * cold_above  # the batch is fine in mild weather
    assert 0.01 < s.cold_batch_failed_share < 0.15
    assert s.cold_batch_crossed_1pct_on is not None
    assert SMALL.season_start < s.cold_batch_crossed_1pct_on < SMALL.season_end


def test_decoy_fails_more_in_warm_weather_too(small: tuple[Path, DemoSummary], world: dict) -> None:
    _, s = small
    others = {b["batch_key"] for b in world["batches"]} - {s.cold_batch, s.decoy_batch}
    _, decoy_warm = _rates(world, {s.decoy_batch}, s.cold_threshold_c)
    _, other_warm = _rates(world, others, s.cold_threshold_c)
    assert decoy_warm > 2 * other_warm


def test_cold_installed_batch_sits_at_the_coldest_sites(
    small: tuple[Path, DemoSummary], world: dict
) -> None:
    _, s = small
    days = [date.fromisoformat(d) for d in world["days"]]
    winter = np.array([d.month in (12, 1, 2) for d in days])
    site_cold = world["tmin"][:, winter].mean(axis=1)[world["site_station"]]
    ci_sites = {u["site_key"] for u in world["units"] if u["batch_key"] == s.cold_installed_batch}
    assert ci_sites and sorted(ci_sites) == list(s.cold_installed_sites)
    ci = np.array([world["site_idx"][k] for k in ci_sites])
    cutoff = np.quantile(site_cold, SMALL.coldest_site_share + 0.02)
    assert (site_cold[ci] <= cutoff).all()
    other = np.setdiff1d(np.arange(len(site_cold)), ci)
    assert site_cold[ci].max() <= np.median(site_cold[other])
    assert len({s.cold_batch, s.decoy_batch, s.cold_installed_batch}) == 3


def test_scenario_json_matches_summary(small: tuple[Path, DemoSummary]) -> None:
    out, s = small
    truth = json.loads((out / "scenario.json").read_text(encoding="utf-8"))
    assert truth["cold_batch"] == s.cold_batch
    assert truth["decoy_batch"] == s.decoy_batch
    assert truth["cold_installed_batch"] == s.cold_installed_batch
    assert truth["cold_threshold_c"] == s.cold_threshold_c == SMALL.cold_threshold_c
    assert truth["spec"]["seed"] == SMALL.seed
    assert truth["row_counts"] == s.row_counts


def test_spec_is_validated() -> None:
    with pytest.raises(ValueError):
        DemoSpec(batches=3)
    with pytest.raises(ValueError):
        DemoSpec(partners=10, sites=5)
    with pytest.raises(ValueError):
        DemoSpec(season_end=date(2025, 8, 1))
