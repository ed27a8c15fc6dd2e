"""A fleet simulator for calibrating detection (not the demo generator; never imported by product).

One season = 26 weeks from early autumn into late winter. Sites lie on a climate gradient
(a few are much colder) in four weather regions; each site's daily minimum is a seasonal
curve + the site's offset + a regional AR(1) anomaly + local noise. Batches of 1,000-3,000
units are spread over 10-30 random sites. Daily hazard per unit: baseline x2 below 0 C for
the whole fleet (harmless: every batch has it), x4 in all weather for one decoy batch; one
batch is installed only at the coldest 10 % of sites; optionally one cold-sensitive batch has
an extra multiplier below a random threshold in [-12, -2] C, sized so its expected failed
fraction reaches 1 % at mid-season (or, if its cold days come later, when half of its
below-threshold exposure has accrued). Units leave the risk set at first failure.

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
    n_weeks: int = 26
    n_regions: int = 4
    baseline_per_day: float = 2e-5
    fleet_cold_multiplier: float = 2.0
    decoy_multiplier: float = 4.0
    units_range: tuple[int, int] = (1000, 3000)
    sites_per_batch: tuple[int, int] = (10, 30)
    coldest_share: float = 0.10
    cold_threshold_range: tuple[float, float] = (-12.0, -2.0)
    target_fraction: float = 0.01
    max_multiplier: float = 2000.0


@dataclass(frozen=True, eq=False)
class Season:
    """One simulated season, aggregated as the SQL layer would, plus the truth."""

    batch_keys: tuple[str, ...]
    decoy: int
    cold_installed: int
    cold_sensitive: int | None
    true_threshold_c: float | None
    bins_c: IntArray
    unit_days: FloatArray  # (B, W, K)
    failures: FloatArray  # (B, W, K)
    units: FloatArray  # (B,)
    fail_batch: IntArray  # one entry per first failure
    fail_site: IntArray
    fail_bin: IntArray
    fail_week: IntArray
    fail_extreme: FloatArray  # coldest daily minimum at the site up to the failure day
    group_batch: IntArray  # (G,) per (batch, site) group
    group_units: FloatArray
    group_survivor_extreme: FloatArray  # coldest minimum over the season, for survivors
    group_failed: FloatArray


def _temperatures(
    rng: np.random.Generator, p: FleetParams, days: int
) -> tuple[FloatArray, FloatArray]:
    """Daily minimum temperature per site (S, D) and each site's climate offset."""
    d = np.arange(days)
    seasonal = 11.0 - 16.0 * np.sin(np.pi * d / 280.0)  # ~ +11 C in early autumn, -5 C mid-winter
    offset = 5.0 - 18.0 * rng.beta(2.0, 3.0, size=p.n_sites)  # a few sites much colder
    region = rng.integers(0, p.n_regions, size=p.n_sites)
    anomaly = np.zeros((p.n_regions, days))
    shocks = rng.normal(0.0, 2.5, size=(p.n_regions, days))
    for t in range(1, days):
        anomaly[:, t] = 0.7 * anomaly[:, t - 1] + shocks[:, t]
    local = rng.normal(0.0, 1.5, size=(p.n_sites, days))
    temps = seasonal[None, :] + offset[:, None] + anomaly[region] + local
    return temps, offset


def simulate_season(rng: np.random.Generator, p: FleetParams, with_cold_batch: bool) -> Season:
    """Simulate one season of the fleet."""
    days = 7 * p.n_weeks
    temps, offset = _temperatures(rng, p, days)
    roles = rng.permutation(p.n_batches)
    decoy, cold_installed = int(roles[0]), int(roles[1])
    cold_sensitive = int(roles[2]) if with_cold_batch else None
    coldest = np.argsort(offset)[: max(2, round(p.coldest_share * p.n_sites))]

    g_batch: list[int] = []
    g_site: list[int] = []
    g_units: list[int] = []
    for b in range(p.n_batches):
        n = int(np.exp(rng.uniform(np.log(p.units_range[0]), np.log(p.units_range[1]))))
        if b == cold_installed:
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
    gb, gs = np.array(g_batch), np.array(g_site)
    gn = np.array(g_units, dtype=np.float64)
    gt = temps[gs]  # (G, D)

    hazard = np.full(gt.shape, p.baseline_per_day)
    hazard *= np.where(gt < 0.0, p.fleet_cold_multiplier, 1.0)
    hazard[gb == decoy] *= p.decoy_multiplier
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
        mid = days // 2
        half = int(np.searchsorted(cold_days, cold_days[-1] / 2.0))
        target_day = max(mid, half)
        background = (w[:, None] * hazard[rows][:, : target_day + 1]).sum()
        extra = max(p.target_fraction - background, 0.0)
        cold_hazard = p.baseline_per_day * p.fleet_cold_multiplier
        mult = 1.0 + extra / (cold_hazard * max(cold_days[target_day], 1e-9))
        mult = min(mult, p.max_multiplier)
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
    week = np.arange(days) // 7
    ud = np.zeros((p.n_batches, p.n_weeks, bins_c.size))
    fl = np.zeros((p.n_batches, p.n_weeks, bins_c.size))
    bi = np.broadcast_to(gb[:, None], gt.shape)
    wi = np.broadcast_to(week[None, :], gt.shape)
    ki = bins_all - lo
    np.add.at(ud, (bi, wi, ki), at_risk)
    np.add.at(fl, (bi, wi, ki), fails)

    running_min = np.minimum.accumulate(gt, axis=1)
    gi, di = np.nonzero(fails)
    reps = fails[gi, di].astype(np.int64)
    gi, di = np.repeat(gi, reps), np.repeat(di, reps)
    units = np.bincount(gb, weights=gn, minlength=p.n_batches)
    return Season(
        batch_keys=tuple(f"B{b:03d}" for b in range(p.n_batches)),
        decoy=decoy,
        cold_installed=cold_installed,
        cold_sensitive=cold_sensitive,
        true_threshold_c=threshold,
        bins_c=bins_c,
        unit_days=ud,
        failures=fl,
        units=units,
        fail_batch=gb[gi],
        fail_site=gs[gi],
        fail_bin=bins_all[gi, di],
        fail_week=week[di],
        fail_extreme=running_min[gi, di],
        group_batch=gb,
        group_units=gn,
        group_survivor_extreme=running_min[:, -1],
        group_failed=fails.sum(axis=1),
    )
