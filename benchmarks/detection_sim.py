"""Calibration benchmark for recall detection on simulated fleets (issue 3, point 6).

Each season is backtested with weekly looks: ``detect`` runs on the data up to the end of
each week, and a batch's first flag is its first look with ``flagged``. Figures:

* false-alarm rate: share of seasons where any batch other than the cold-sensitive one is
  flagged at any look (target <= 5 %);
* detection rate: share of seasons with a cold-sensitive batch where it is flagged by the end
  of the season (target >= 90 %);
* median cumulative failed fraction of that batch at its first flag (target <= 1 %);
* median |estimated - true threshold| at the first flag (target within 2 C).

``--calibrate`` also tabulates the figures for a grid of CUSUM limits h, for the flag rules
"evidence rules and CUSUM max >= h" (the default) and "... and (CUSUM or BH q <= alpha)"
(every h is evaluated from one run), and prints the smallest h whose false-alarm rate is at
most ``--target-fa``. Only the false-alarm rate, measured on the batches that are not
cold-sensitive, chooses h.

Run: ``.venv/bin/python benchmarks/detection_sim.py --seasons 200 --workers 2``.
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import sys
import time
from dataclasses import dataclass, replace
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.fleet_sim import FleetParams, simulate_season
from recall.detection.inputs import DetectionInput
from recall.detection.statistics import DetectionConfig, detect_arrays


@dataclass(frozen=True)
class SeasonRecord:
    """Per look (W) and batch (B): evidence rules met, BH q <= alpha, CUSUM max, threshold."""

    index: int
    cold_sensitive: int | None
    decoy: int
    cold_installed: int
    true_threshold_c: float | None
    evidence: np.ndarray  # (W, B) bool
    scan_ok: np.ndarray  # (W, B) bool
    cusum_max: np.ndarray  # (W, B)
    threshold: np.ndarray  # (W, B), nan without one
    failed_fraction: np.ndarray  # (W, B) cumulative at the end of each week


def run_season(task: tuple[int, int, FleetParams, DetectionConfig]) -> SeasonRecord:
    """Simulate one season and run ``detect`` at every weekly look."""
    seed, index, params, config = task
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    season = simulate_season(rng, params, with_cold_batch=index % 2 == 1)
    n_b, n_w = params.n_batches, params.n_weeks
    evidence = np.zeros((n_w, n_b), dtype=bool)
    scan_ok = np.zeros((n_w, n_b), dtype=bool)
    cusum_max = np.zeros((n_w, n_b))
    threshold = np.full((n_w, n_b), np.nan)
    key_index = {k: i for i, k in enumerate(season.batch_keys)}
    for look in range(n_w):
        sel = season.fail_week <= look
        inp = DetectionInput(
            batch_keys=season.batch_keys,
            bins_c=season.bins_c,
            unit_days=season.unit_days[:, : look + 1],
            failures=season.failures[:, : look + 1],
            units=season.units,
            site_batch=season.fail_batch[sel],
            site_code=season.fail_site[sel],
            site_bin=season.fail_bin[sel],
        )
        for r in detect_arrays(inp, config):
            b = key_index[r.batch_key]
            evidence[look, b] = r.evidence_met
            scan_ok[look, b] = r.q_value <= config.fdr_alpha
            cusum_max[look, b] = r.cusum.max_statistic
            threshold[look, b] = np.nan if r.threshold_c is None else r.threshold_c
    cum = np.cumsum(season.failures.sum(axis=2), axis=1).T / season.units[None, :]
    return SeasonRecord(
        index=index,
        cold_sensitive=season.cold_sensitive,
        decoy=season.decoy,
        cold_installed=season.cold_installed,
        true_threshold_c=season.true_threshold_c,
        evidence=evidence,
        scan_ok=scan_ok,
        cusum_max=cusum_max,
        threshold=threshold,
        failed_fraction=cum,
    )


def flags(rec: SeasonRecord, h: float, rule: str) -> np.ndarray:
    """(W, B) flagged under the flag rule with CUSUM limit h."""
    alarm = rec.cusum_max >= h
    signal = {"cusum": alarm, "scan": rec.scan_ok, "cusum_or_scan": alarm | rec.scan_ok}[rule]
    return np.asarray(rec.evidence & signal)


def summarise(records: list[SeasonRecord], h: float, rule: str) -> dict[str, float]:
    """Headline figures for one CUSUM limit."""
    fa = fa_decoy = fa_coldinst = 0
    detected, fractions, errors, weeks = 0, [], [], []
    n_cold = 0
    for rec in records:
        f = flags(rec, h, rule)
        others = np.ones(f.shape[1], dtype=bool)
        if rec.cold_sensitive is not None:
            others[rec.cold_sensitive] = False
        fa += bool(f[:, others].any())
        fa_decoy += bool(f[:, rec.decoy].any())
        fa_coldinst += bool(f[:, rec.cold_installed].any())
        if rec.cold_sensitive is None:
            continue
        n_cold += 1
        col = f[:, rec.cold_sensitive]
        if col.any():
            look = int(np.argmax(col))
            detected += 1
            weeks.append(look + 1)
            fractions.append(rec.failed_fraction[look, rec.cold_sensitive])
            assert rec.true_threshold_c is not None
            errors.append(abs(rec.threshold[look, rec.cold_sensitive] - rec.true_threshold_c))
    n = len(records)
    return {
        "h": h,
        "false_alarm_rate": fa / n if n else math.nan,
        "fa_decoy": fa_decoy / n if n else math.nan,
        "fa_cold_installed": fa_coldinst / n if n else math.nan,
        "detection_rate": detected / n_cold if n_cold else math.nan,
        "median_failed_fraction_at_flag": float(np.median(fractions)) if fractions else math.nan,
        "share_flagged_at_or_below_1pct": float(np.mean(np.array(fractions) <= 0.01))
        if fractions
        else math.nan,
        "median_threshold_error_c": float(np.median(errors)) if errors else math.nan,
        "median_week_of_flag": float(np.median(weeks)) if weeks else math.nan,
        "n_cold_seasons": n_cold,
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures (last line: JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seasons", type=int, default=200)
    ap.add_argument(
        "--seed",
        default="0",
        help="simulator seed, or a comma-separated list: --seasons seasons per seed, pooled "
        "(calibrate on several seeds so the chosen h does not rest on one seed's null seasons)",
    )
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--draws", type=int, default=None, help="Monte Carlo draws (default: config)")
    ap.add_argument("--cusum-rate-ratio", type=float, default=None)
    ap.add_argument("--cusum-h", type=float, default=None)
    ap.add_argument("--flag-rule", choices=["cusum", "scan", "cusum_or_scan"], default=None)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a numeric DetectionConfig field, e.g. --set cusum_h=7",
    )
    ap.add_argument("--calibrate", action="store_true", help="tabulate a grid of CUSUM limits")
    ap.add_argument("--target-fa", type=float, default=0.04)
    ap.add_argument("--save", default=None, help="pickle the per-look records to this path")
    args = ap.parse_args(argv)

    config = DetectionConfig()
    if args.draws is not None:
        config = replace(config, monte_carlo_draws=args.draws)
    if args.cusum_rate_ratio is not None:
        config = replace(config, cusum_rate_ratio=args.cusum_rate_ratio)
    if args.cusum_h is not None:
        config = replace(config, cusum_h=args.cusum_h)
    if args.flag_rule is not None:
        config = replace(config, flag_rule=args.flag_rule)
    for item in args.set:
        name, _, value = item.partition("=")
        current = getattr(config, name)
        config = replace(
            config, **{name: type(current)(value) if current is not None else int(value)}
        )
    params = FleetParams(n_batches=args.batches)
    seeds = [int(x) for x in str(args.seed).split(",")]
    tasks = [(seed, i, params, config) for seed in seeds for i in range(args.seasons)]
    t0 = time.perf_counter()
    if args.workers > 1:
        with Pool(args.workers) as pool:
            records = pool.map(run_season, tasks, chunksize=1)
    else:
        records = [run_season(t) for t in tasks]
    elapsed = time.perf_counter() - t0
    if args.save:
        with open(args.save, "wb") as fh:
            pickle.dump(records, fh)

    print(
        f"seasons={len(records)} batches={args.batches} weeks={params.n_weeks} seed={args.seed} "
        f"workers={args.workers} elapsed={elapsed:.0f}s"
    )
    print(
        f"config: flag_rule={config.flag_rule} cusum_rate_ratio={config.cusum_rate_ratio:g} "
        f"cusum_h={config.cusum_h:g} monte_carlo_draws={config.monte_carlo_draws} "
        f"fdr_alpha={config.fdr_alpha:g} ref_min_group={config.reference_min_group_failures:g} "
        f"level_prior={config.cusum_level_prior_weight:g} "
        f"evidence: >={config.min_failures_beyond} failures, "
        f">={config.min_sites_beyond} sites, RR lower > {config.min_rate_ratio_lower:g}"
    )
    for rule in ["cusum", "cusum_or_scan"] if args.calibrate else []:
        print(f"flag rule: {rule}")
        print(
            f"{'h':>6} {'FA':>6} {'decoy':>6} {'coldin':>6} {'detect':>7} {'frac@flag':>10} "
            f"{'<=1%':>6} {'thr err':>8} {'week':>5}"
        )
        chosen = None
        for h in np.arange(2.0, 20.01, 0.5):
            s = summarise(records, float(h), rule)
            print(
                f"{h:6.2f} {s['false_alarm_rate']:6.3f} {s['fa_decoy']:6.3f} "
                f"{s['fa_cold_installed']:6.3f} {s['detection_rate']:7.3f} "
                f"{s['median_failed_fraction_at_flag']:10.4%} "
                f"{s['share_flagged_at_or_below_1pct']:6.2f} {s['median_threshold_error_c']:8.2f} "
                f"{s['median_week_of_flag']:5.1f}"
            )
            if chosen is None and s["false_alarm_rate"] <= args.target_fa:
                chosen = float(h)
        s_inf = summarise(records, math.inf, rule)
        print(
            f"without the CUSUM (scan path only): FA={s_inf['false_alarm_rate']:.3f} "
            f"detection={s_inf['detection_rate']:.3f}"
        )
        print(f"smallest h with false-alarm rate <= {args.target_fa:g}: {chosen}")

    s = summarise(records, config.cusum_h, config.flag_rule)
    print("figure                                      value    target")
    print(f"season false-alarm rate                     {s['false_alarm_rate']:6.3f}   <= 0.05")
    print(f"  ... by the decoy (4x all weather)         {s['fa_decoy']:6.3f}")
    print(f"  ... by the cold-installed batch           {s['fa_cold_installed']:6.3f}")
    print(
        f"detection rate of the cold batch            {s['detection_rate']:6.3f}   >= 0.90"
        f"   ({s['n_cold_seasons']} seasons)"
    )
    print(
        f"median failed fraction at first flag        {s['median_failed_fraction_at_flag']:6.3%}"
        f"   <= 1 %"
    )
    print(f"share of detections at <= 1 % failed        {s['share_flagged_at_or_below_1pct']:6.3f}")
    print(
        f"median |threshold error| at first flag (C)  {s['median_threshold_error_c']:6.2f}   <= 2"
    )
    print(f"median week of first flag                   {s['median_week_of_flag']:6.1f}")
    print(
        json.dumps(
            {
                "seasons": len(records),
                "false_alarm_rate": round(s["false_alarm_rate"], 4),
                "detection_rate": round(s["detection_rate"], 4),
                "median_failed_fraction_at_flag": round(s["median_failed_fraction_at_flag"], 5),
                "median_threshold_error_c": round(s["median_threshold_error_c"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
