"""A fleet simulator for calibrating detection (not the demo generator; never imported by product).

One season = 182 days from early autumn into late winter, observed day by day. Sites lie on
a climate gradient (a few are much colder) in four weather regions; each site's daily minimum
is a seasonal curve + the site's offset + a regional AR(1) anomaly + local noise. The
``weather`` knob picks the season's shape: ``standard`` (autumn into winter), ``cold_snap``
(a mild season broken by a sudden two-week snap) or ``slow_slide`` (a steady slide from
+12 C to -12 C with little weather on top). Batches are spread over 10-30 random sites.

Daily hazard per unit: baseline x ``fleet_cold_multiplier`` below 0 C for the whole fleet
(harmless: every batch has it), x4 in all weather for the decoy batches; one batch is
installed only at the coldest sites (or, with ``cold_installed_where="coldest_region"``, at
every site of the coldest region); optionally one cold-sensitive batch has an extra
multiplier below a random threshold in [-12, -2] C, sized so its expected failed fraction
reaches ``target_fraction`` (at least ``min_target_failures`` units) at mid-season, or when
half of its below-threshold exposure has accrued if its cold days come later. Units leave
the risk set at first failure.

Everything is simulated per (batch, site) group, since all units of a batch at one site see
the same weather: binomial draws per group and day, vectorised over groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FleetParams:
    """Knobs of the simulated fleet."""

    n_sites: int = 150
    n_batches: int = 40
    n_days: int = 182
    n_regions: int = 4
    weather: str = "standard"  # standard, cold_snap or slow_slide
    baseline_per_day: float = 2e-5
    fleet_cold_multiplier: float = 2.0
    decoy_multiplier: float = 4.0
    n_decoys: int = 1
    units_range: tuple[int, int] = (1000, 3000)
    sites_per_batch: tuple[int, int] = (10, 30)
    coldest_share: float = 0.10
    cold_installed_where: str = "coldest_sites"  # or coldest_region
    cold_threshold_range: tuple[float, float] = (-12.0, -2.0)
    cold_rate_ratio_range: tuple[float, float] = (8.0, 30.0)
    target_fraction: float = 0.01
    min_target_failures: float = 10.0
    max_multiplier: float = 2000.0


# The scenario families of issue 13, each a variation of the standard fleet.
FAMILIES: dict[str, FleetParams] = {
    "standard": FleetParams(),
    "cold_snap": FleetParams(weather="cold_snap"),
    "slow_slide": FleetParams(weather="slow_slide"),
    "small_batches": FleetParams(units_range=(200, 200)),
    "large_batches": FleetParams(units_range=(5000, 5000)),
    "strong_fleet_cold": FleetParams(fleet_cold_multiplier=4.0),
    "decoys": FleetParams(n_decoys=4),
    "cold_region": FleetParams(cold_installed_where="coldest_region"),
}


@dataclass(frozen=True, eq=False)
class Season:
    """One simulated season, aggregated per day as the SQL layer would, plus the truth."""

    batch_keys: tuple[str, ...]
    decoys: tuple[int, ...]
    cold_installed: int
    cold_sensitive: int | None
    true_threshold_c: float | None
    bins_c: IntArray
    unit_days: FloatArray  # (B, D, K)
    failures: FloatArray  # (B, D, K)
    units: FloatArray  # (B,)
    fail_batch: IntArray  # one entry per first failure
    fail_site: IntArray
    fail_bin: IntArray
    fail_day: IntArray


def _seasonal(rng: np.random.Generator, p: FleetParams) -> tuple[FloatArray, float, float]:
    """The fleet's seasonal curve (D,), and the scale of regional and local weather."""
    d = np.arange(p.n_days, dtype=np.float64)
    if p.weather == "standard":
        # ~ +11 C in early autumn, -5 C mid-winter
        return 11.0 - 16.0 * np.sin(np.pi * d / 280.0), 2.5, 1.5
    if p.weather == "slow_slide":
        return 12.0 - 24.0 * d / (p.n_days - 1), 0.8, 1.0
    if p.weather == "cold_snap":
        curve = 8.0 - 4.0 * d / (p.n_days - 1)
        start = int(rng.integers(p.n_days // 4, 3 * p.n_days // 4))
        length = int(rng.integers(8, 16))
        depth = float(rng.uniform(12.0, 18.0))
        # Falls within two days, holds, and recovers within three.
        ramp = np.clip(np.minimum((d - start + 1) / 2.0, (start + length + 3 - d) / 3.0), 0, 1)
        return curve - depth * ramp, 1.5, 1.5
    raise ValueError(f"unknown weather {p.weather!r}")


def _temperatures(
    rng: np.random.Generator, p: FleetParams
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Daily minimum temperature per site (S, D), each site's offset and region."""
    seasonal, regional_sd, local_sd = _seasonal(rng, p)
    offset = 5.0 - 18.0 * rng.beta(2.0, 3.0, size=p.n_sites)  # a few sites much colder
    region = rng.integers(0, p.n_regions, size=p.n_sites)
    if p.cold_installed_where == "coldest_region":
        offset = np.where(region == 0, offset - 6.0, offset)  # region 0 is the coldest
    anomaly = np.zeros((p.n_regions, p.n_days))
    shocks = rng.normal(0.0, regional_sd, size=(p.n_regions, p.n_days))
    for t in range(1, p.n_days):
        anomaly[:, t] = 0.7 * anomaly[:, t - 1] + shocks[:, t]
    local = rng.normal(0.0, local_sd, size=(p.n_sites, p.n_days))
    temps = seasonal[None, :] + offset[:, None] + anomaly[region] + local
    return temps, offset, region


def _groups(
    rng: np.random.Generator, p: FleetParams, coldest: IntArray, cold_placed: set[int]
) -> tuple[IntArray, IntArray, FloatArray]:
    """(batch, site, units) per group: each batch's units spread over its sites (the
    ``cold_placed`` batches over the coldest sites)."""
    g_batch: list[int] = []
    g_site: list[int] = []
    g_units: list[int] = []
    lo, hi = p.units_range
    for b in range(p.n_batches):
        n = int(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if hi > lo else lo
        if b in cold_placed:
            sites = coldest
        else:
            k = int(rng.integers(p.sites_per_batch[0], p.sites_per_batch[1] + 1))
            sites = rng.choice(p.n_sites, size=k, replace=False)
        alloc = rng.multinomial(n, np.full(sites.size, 1.0 / sites.size))
        for s, a in zip(sites, alloc, strict=True):
            if a > 0:
                g_batch.append(b)
                g_site.append(int(s))
                g_units.append(int(a))
    return np.array(g_batch), np.array(g_site), np.array(g_units, dtype=np.float64)


def simulate_season(rng: np.random.Generator, p: FleetParams, with_cold_batch: bool) -> Season:
    """Simulate one season of the fleet."""
    days = p.n_days
    temps, offset, region = _temperatures(rng, p)
    roles = rng.permutation(p.n_batches)
    decoys = tuple(int(r) for r in roles[: p.n_decoys])
    cold_installed = int(roles[p.n_decoys])
    cold_sensitive = int(roles[p.n_decoys + 1]) if with_cold_batch else None
    if p.cold_installed_where == "coldest_region":
        coldest = np.flatnonzero(region == 0)
    else:
        coldest = np.argsort(offset)[: max(2, round(p.coldest_share * p.n_sites))]
    # With several decoys, one sits at the coldest sites too: 4x everywhere, mostly cold.
    cold_placed = {cold_installed} | ({decoys[-1]} if p.n_decoys > 1 else set())
    gb, gs, gn = _groups(rng, p, coldest, cold_placed)
    gt = temps[gs]  # (G, D)

    hazard = np.full(gt.shape, p.baseline_per_day)
    hazard *= np.where(gt < 0.0, p.fleet_cold_multiplier, 1.0)
    hazard[np.isin(gb, decoys)] *= p.decoy_multiplier
    threshold = None
    if cold_sensitive is not None:
        rows = gb == cold_sensitive
        w = gn[rows] / gn[rows].sum()
        for _ in range(100):
            threshold = float(rng.uniform(*p.cold_threshold_range))
            cold_days = np.cumsum((w[:, None] * (gt[rows] < threshold)).sum(axis=0))
            if cold_days[-1] >= 4.0:  # redraw a threshold this batch never (or barely) sees
                break
        assert threshold is not None
        half = int(np.searchsorted(cold_days, cold_days[-1] / 2.0))
        target_day = max(days // 2, half)
        background = (w[:, None] * hazard[rows][:, : target_day + 1]).sum()
        target = max(p.target_fraction, p.min_target_failures / gn[rows].sum())
        extra = max(target - background, 0.0)
        cold_hazard = p.baseline_per_day * p.fleet_cold_multiplier
        needed = 1.0 + extra / (cold_hazard * max(cold_days[target_day], 1e-9))
        ratio = float(np.exp(rng.uniform(*np.log(p.cold_rate_ratio_range))))
        mult = min(max(ratio, needed), p.max_multiplier)
        hazard[rows] *= np.where(gt[rows] < threshold, mult, 1.0)

    prob = -np.expm1(-hazard)
    at_risk = np.zeros(gt.shape)
    fails = np.zeros(gt.shape)
    alive = gn.copy()
    for t in range(days):
        at_risk[:, t] = alive
        f = rng.binomial(alive.astype(np.int64), prob[:, t])
        fails[:, t] = f
        alive = alive - f

    bins_all = np.floor(gt).astype(np.int64)
    lo, hi = int(bins_all.min()), int(bins_all.max())
    bins_c = np.arange(lo, hi + 1, dtype=np.int64)
    ud = np.zeros((p.n_batches, days, bins_c.size))
    fl = np.zeros((p.n_batches, days, bins_c.size))
    bi = np.broadcast_to(gb[:, None], gt.shape)
    di = np.broadcast_to(np.arange(days)[None, :], gt.shape)
    ki = bins_all - lo
    np.add.at(ud, (bi, di, ki), at_risk)
    np.add.at(fl, (bi, di, ki), fails)

    gi, fi = np.nonzero(fails)
    reps = fails[gi, fi].astype(np.int64)
    gi, fi = np.repeat(gi, reps), np.repeat(fi, reps)
    units = np.bincount(gb, weights=gn, minlength=p.n_batches)
    return Season(
        batch_keys=tuple(f"B{b:03d}" for b in range(p.n_batches)),
        decoys=decoys,
        cold_installed=cold_installed,
        cold_sensitive=cold_sensitive,
        true_threshold_c=threshold,
        bins_c=bins_c,
        unit_days=ud,
        failures=fl,
        units=units,
        fail_batch=gb[gi],
        fail_site=gs[gi],
        fail_bin=bins_all[gi, fi],
        fail_day=fi.astype(np.int64),
    )
