"""Demo scenario generator: a synthetic cold-climate fleet written in the CSV interchange formats.

``generate(out_dir, spec)`` writes the eight CSV files of design.md plus ``scenario.json``
(the ground truth). It is pure apart from writing those files: no database, no clock, and the
output is byte-identical for a given spec. The story: one batch fails far more on days whose
minimum temperature is below a threshold, a decoy batch fails more in all weather, a third
batch is ordinary but installed only at the coldest sites, and the whole fleet fails a little
more below 0 C. Hazards use the nearest weather station's daily ``temp_min_c``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from api.demo.failures import Hazard, make_reports, simulate_first_failures
from api.demo.fleet import make_batches, make_partners, make_technicians, make_units
from api.demo.geo import make_geography, make_weather
from devices.csv_formats import FORMATS


@dataclass(frozen=True)
class DemoSpec:
    """Sizes, season and ground-truth hazard parameters of the scenario (all overridable)."""

    seed: int = 7
    partners: int = 40
    sites: int = 400
    towns: int = 12
    batches: int = 36
    units: int = 12000
    stations: int = 30
    technicians: int = 12
    season_start: date = date(2025, 9, 1)
    season_end: date = date(2026, 2, 28)
    remote_share: float = 0.08  # sites placed anywhere in the region, not near a town
    base_daily_hazard: float = 3e-5  # per unit-day in mild weather (~1 %/year)
    fleet_cold_below_c: float = 0.0
    fleet_cold_multiplier: float = 1.7  # whole fleet, days with temp_min below 0 C
    cold_threshold_c: float = -8.0
    cold_multiplier: float = 12.0  # cold batch, on top of the fleet factor (x20 vs mild days)
    decoy_multiplier: float = 4.0  # decoy batch, all weather
    coldest_site_share: float = 0.12  # the cold-installed batch goes to this coldest share
    repeat_report_share: float = 0.08  # failed units that get a second, later report

    def __post_init__(self) -> None:
        for name in ("partners", "sites", "towns", "units", "stations", "technicians"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.batches < 4:
            raise ValueError("batches must be at least 4")
        if self.sites < self.partners:
            raise ValueError("sites must be at least partners (each partner has a site)")
        if self.season_end <= self.season_start:
            raise ValueError("season_end must be after season_start")


@dataclass(frozen=True)
class DemoSummary:
    """What was written and the ground truth a detector should recover."""

    out_dir: Path
    seed: int
    files: tuple[Path, ...]
    row_counts: dict[str, int] = field(hash=False)
    cold_batch: str
    cold_threshold_c: float
    cold_multiplier: float
    decoy_batch: str
    decoy_multiplier: float
    cold_installed_batch: str
    cold_installed_sites: tuple[str, ...]
    fleet_cold_below_c: float
    fleet_cold_multiplier: float
    base_daily_hazard: float
    cold_batch_units: int
    cold_batch_failed_share: float  # units with a first failure within the season
    cold_batch_crossed_1pct_on: date | None
    fleet_failed_share: float


def _t(x: float) -> str:
    s = f"{x:.1f}"
    return "0.0" if s == "-0.0" else s


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def generate(out_dir: Path, spec: DemoSpec = DemoSpec()) -> DemoSummary:
    """Write the demo fleet CSVs and ``scenario.json`` into ``out_dir``; same spec, same bytes."""
    rng = np.random.default_rng(spec.seed)
    out_dir.mkdir(parents=True, exist_ok=True)

    geo = make_geography(rng, spec.towns, spec.sites, spec.stations, spec.remote_share)
    days, tmin, tmax = make_weather(
        rng, geo.station_lat, geo.station_lon, spec.season_start, spec.season_end
    )
    partners = make_partners(rng, spec.partners, geo)
    order = partners.site_order  # geography index of each site, in site-key order
    site_station = geo.site_station[order]
    winter = np.array([d.month in (12, 1, 2) for d in days])
    if not winter.any():
        winter[:] = True
    site_coldness = tmin[:, winter].mean(axis=1)[site_station]
    batches = make_batches(rng, spec.batches, spec.season_start)
    units = make_units(
        rng,
        spec.units,
        batches,
        site_coldness,
        spec.season_start,
        spec.season_end,
        spec.coldest_site_share,
    )
    hz = Hazard(
        base_daily=spec.base_daily_hazard,
        fleet_cold_below_c=spec.fleet_cold_below_c,
        fleet_cold_multiplier=spec.fleet_cold_multiplier,
        cold_batch=batches.cold,
        cold_threshold_c=spec.cold_threshold_c,
        cold_multiplier=spec.cold_multiplier,
        decoy_batch=batches.decoy,
        decoy_multiplier=spec.decoy_multiplier,
    )
    unit_station = site_station[units.site]
    unit_tmin = tmin[unit_station]
    unit_tmax = tmax[unit_station]
    first = simulate_first_failures(rng, hz, units.batch, units.installed, unit_tmin)
    site_tz = [geo.site_timezone[int(g)] for g in order]
    reports = make_reports(
        rng,
        hz,
        first,
        units.batch,
        [site_tz[int(s)] for s in units.site],
        unit_tmin,
        unit_tmax,
        spec.season_start,
        spec.repeat_report_share,
    )
    technicians = make_technicians(rng, spec.technicians, geo)

    site_keys = [f"S{i + 1:05d}" for i in range(spec.sites)]
    station_keys = [f"WS{i + 1:03d}" for i in range(spec.stations)]
    counts: dict[str, int] = {}
    files: list[Path] = []

    def emit(name: str, rows: Iterable[Sequence[object]]) -> None:
        path = out_dir / f"{name}.csv"
        counts[name] = _write(path, FORMATS[name].header, rows)
        files.append(path)

    emit(
        "partners",
        zip(partners.key, partners.name, partners.email, partners.phone, strict=True),
    )
    emit(
        "sites",
        (
            (
                site_keys[i],
                partners.key[int(partners.site_partner[i])],
                partners.site_name[i],
                geo.site_address[int(g)],
                f"{geo.site_lat[g]:.5f}",
                f"{geo.site_lon[g]:.5f}",
                geo.site_timezone[int(g)],
                geo.site_hours[int(g)],
            )
            for i, g in enumerate(order)
        ),
    )
    emit(
        "batches",
        (
            (batches.key[i], batches.model[i], batches.rev[i], batches.manufactured[i].isoformat())
            for i in range(spec.batches)
        ),
    )
    emit(
        "units",
        (
            (
                units.serial[i],
                batches.key[int(units.batch[i])],
                site_keys[int(units.site[i])],
                _day(spec.season_start, int(units.installed[i])),
                units.firmware[i],
            )
            for i in range(spec.units)
        ),
    )
    emit(
        "failures",
        (
            (
                f"R{i + 1:06d}",
                units.serial[int(reports.unit[i])],
                reports.occurred_at[i],
                reports.symptom[i],
                _t(float(reports.ambient[i])),
                reports.source[i],
            )
            for i in range(len(reports.occurred_at))
        ),
    )
    emit(
        "stations",
        (
            (
                station_keys[k],
                geo.station_name[k],
                f"{geo.station_lat[k]:.5f}",
                f"{geo.station_lon[k]:.5f}",
            )
            for k in range(spec.stations)
        ),
    )
    emit(
        "weather",
        (
            (station_keys[k], d.isoformat(), _t(tmin[k, j]), _t(tmax[k, j]))
            for k in range(spec.stations)
            for j, d in enumerate(days)
        ),
    )
    emit(
        "technicians",
        (
            (
                technicians.key[i],
                technicians.name[i],
                f"{technicians.lat[i]:.5f}",
                f"{technicians.lon[i]:.5f}",
                technicians.skills[i],
                technicians.shift_start[i],
                technicians.shift_end[i],
                technicians.workdays[i],
            )
            for i in range(spec.technicians)
        ),
    )

    in_cold = units.batch == batches.cold
    n_cold = int(in_cold.sum())
    cold_first = first[in_cold]
    per_day = np.bincount(cold_first[cold_first >= 0], minlength=len(days))
    crossed = np.flatnonzero(np.cumsum(per_day) >= 0.01 * n_cold)
    ci_sites = sorted(
        {site_keys[int(s)] for s in units.site[units.batch == batches.cold_installed]}
    )
    summary = DemoSummary(
        out_dir=out_dir,
        seed=spec.seed,
        files=(*files, out_dir / "scenario.json"),
        row_counts=counts,
        cold_batch=batches.key[batches.cold],
        cold_threshold_c=spec.cold_threshold_c,
        cold_multiplier=spec.cold_multiplier,
        decoy_batch=batches.key[batches.decoy],
        decoy_multiplier=spec.decoy_multiplier,
        cold_installed_batch=batches.key[batches.cold_installed],
        cold_installed_sites=tuple(ci_sites),
        fleet_cold_below_c=spec.fleet_cold_below_c,
        fleet_cold_multiplier=spec.fleet_cold_multiplier,
        base_daily_hazard=spec.base_daily_hazard,
        cold_batch_units=n_cold,
        cold_batch_failed_share=round(float((cold_first >= 0).mean()) if n_cold else 0.0, 6),
        cold_batch_crossed_1pct_on=days[int(crossed[0])] if len(crossed) and n_cold else None,
        fleet_failed_share=round(float((first >= 0).mean()), 6),
    )
    _write_scenario(out_dir / "scenario.json", spec, summary)
    return summary


def _day(start: date, offset: int) -> str:
    return date.fromordinal(start.toordinal() + offset).isoformat()


def _write_scenario(path: Path, spec: DemoSpec, summary: DemoSummary) -> None:
    truth = asdict(summary)
    del truth["out_dir"]  # keep the file independent of where it was written
    truth["files"] = [p.name for p in summary.files]
    truth["cold_batch_crossed_1pct_on"] = (
        summary.cold_batch_crossed_1pct_on.isoformat()
        if summary.cold_batch_crossed_1pct_on
        else None
    )
    truth["cold_installed_sites"] = list(summary.cold_installed_sites)
    truth["hazard_model"] = (
        "daily hazard per installed unit = base_daily_hazard"
        " * fleet_cold_multiplier if temp_min_c < fleet_cold_below_c"
        " * cold_multiplier if cold_batch and temp_min_c < cold_threshold_c"
        " * decoy_multiplier if decoy_batch; temp_min_c of the site's nearest station"
    )
    truth["spec"] = {
        k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(spec).items()
    }
    path.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")
