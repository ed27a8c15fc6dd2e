"""Detection statistics (issues 3 and 13): does a batch fail more beyond a temperature
threshold, since when does the evidence hold, and when did the alarm go off?

Pure module: numpy, scipy and statsmodels only (no database, no web framework). The SQL
layer aggregates unit-days and first failures per batch, day and temperature bin and hands
over a ``DetectionInput``; ``detect`` returns one ``BatchResult`` per batch with at least one
failure, as of the last day of the data.

Method (details in ``scan.py``, ``sequential.py`` and ``rates.py``):

1. Reference: each batch's expected failures per temperature bin = its unit-days x the rate
   of all *other* batches in that bin, so fleet-wide weather effects cancel and a batch
   never dilutes its own reference.
2. Sequential test, one look a day (``sequential.py``): for every day, the largest
   conditional binomial log-likelihood ratio over the candidate thresholds of "more of the
   batch's failures lie beyond the threshold than its exposure there explains" (a binomial
   maxSPRT with the threshold scanned too). A batch is flagged on the first day on which
   the evidence rules hold (failures and distinct sites beyond the threshold, exact lower
   confidence bound of the rate ratio) and the statistic reaches the critical value,
   calibrated by simulation so that a fleet's false-alarm rate over a season of daily looks
   stays under 5 % (``benchmarks/detection_sim.py``). Once flagged, a batch stays flagged.
3. On the last day: the scan's Monte Carlo p-value and the Benjamini-Hochberg q-value
   across batches (reported; they do not flag), and the rate ratio beyond vs not beyond
   with an exact interval.
4. For a flagged batch, or one whose evidence rules held on some day: the day-by-day path
   of the test, the failure rates per temperature bin and the rate model (``rates.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from recall.detection.config import DetectionConfig
from recall.detection.evidence import (
    BatchResult,
    DailyPath,
    RateEvidence,
    SequentialSummary,
)
from recall.detection.inputs import DetectionInput, FloatArray
from recall.detection.rates import bin_rates, fit_rate_model
from recall.detection.scan import rate_ratio_ci, scan_batch
from recall.detection.sequential import SequentialPaths, first_day, sequential_paths


def bh_qvalues(p_values: Sequence[float]) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values), via statsmodels."""
    # Heavy (statsmodels): loaded when detection runs, not when a process starts.
    from statsmodels.stats.multitest import multipletests

    if len(p_values) == 0:
        return np.zeros(0)
    return np.asarray(multipletests(np.asarray(p_values), method="fdr_bh")[1], dtype=np.float64)


def _batch_rng(seed: int, batch_key: str) -> np.random.Generator:
    # Seeded by the key, not the position, so adding a batch does not change another's p-value.
    return np.random.default_rng([seed, zlib.crc32(batch_key.encode())])


def critical_value_for(inp: DetectionInput, config: DetectionConfig) -> float:
    """The critical value for this fleet: calibrated for ``critical_value_batches``
    batches, raised by ln(B / that) for B batches with exposure."""
    exposed = int((inp.unit_days.sum(axis=(1, 2)) > 0).sum())
    return config.effective_critical_value(exposed)


def detect(inp: DetectionInput, config: DetectionConfig) -> list[BatchResult]:
    """Run detection; one result per batch with at least one failure, sorted by batch key."""
    if inp.n_days == 0:
        return []
    cv = critical_value_for(inp, config)
    paths = sequential_paths(inp, config, cv)
    alarm_day = first_day(paths.flags(cv))
    evidence_day = first_day(paths.evidence)
    last = inp.n_days - 1
    totals_days = inp.unit_days.sum(axis=1)  # (B, K)
    totals_fail = inp.failures.sum(axis=1)
    chosen = [int(b) for b in np.flatnonzero(paths.failures_total[:, last] > 0.5)]
    chosen.sort(key=lambda b: inp.batch_keys[b])
    scans = [
        scan_batch(
            totals_fail[b],
            paths.expected_last[b],
            inp.bins_c,
            paths.candidates_last,
            config.direction,
            draws=config.monte_carlo_draws,
            rng=_batch_rng(config.seed, inp.batch_keys[b]),
        )
        for b in chosen
    ]
    q_values = bh_qvalues([s.p_value for s in scans])
    results = []
    for j, b in enumerate(chosen):
        s = scans[j]
        ob = int(paths.failures_beyond[b, last])
        n = int(paths.failures_total[b, last])
        eb = float(paths.expected_beyond[b, last])
        eo = float(paths.expected_total[b, last]) - eb
        threshold = paths.threshold_at(b, last)
        if threshold is None:
            rr, lo, hi = float("nan"), float("nan"), float("nan")
        else:
            rr, lo, hi = rate_ratio_ci(ob, n - ob, eb, eo, config.confidence)
        alarm = int(alarm_day[b])
        first_evidence = int(evidence_day[b])
        sequential = SequentialSummary(
            statistic=float(paths.statistic[b, last]),
            max_statistic=float(paths.statistic[b].max()),
            critical_value=cv,
            alarm=alarm >= 0,
            alarm_on=inp.date_of(alarm) if alarm >= 0 else None,
            threshold_at_alarm_c=paths.threshold_at(b, alarm) if alarm >= 0 else None,
            evidence_first_held_on=inp.date_of(first_evidence) if first_evidence >= 0 else None,
            path=_path(inp, paths, b) if first_evidence >= 0 else None,
        )
        units = float(inp.units[b])
        d_beyond = float(paths.unit_days_beyond[b, last])
        results.append(
            BatchResult(
                batch_key=inp.batch_keys[b],
                flagged=alarm >= 0,
                variable=config.variable,
                direction=config.direction,
                threshold_c=threshold,
                failures_below=ob,
                failures_above=n - ob,
                unit_days_below=d_beyond,
                unit_days_above=float(paths.unit_days_total[b, last]) - d_beyond,
                expected_below=eb,
                expected_above=eo,
                rate_ratio=rr,
                rate_ratio_ci=(lo, hi),
                p_value=float(s.p_value),
                p_value_single=float(s.p_value_single),
                q_value=float(q_values[j]),
                scan_method=s.method,
                sequential=sequential,
                sites_with_failures_below=int(paths.sites_beyond[b, last]),
                n_failures=n,
                failed_fraction=n / units if units > 0 else None,
                rates=_rates(inp, config, totals_days, totals_fail, b)
                if first_evidence >= 0
                else None,
                evidence_met=bool(paths.evidence[b, last]),
                reasons=_reasons(config, paths, b, last, sequential),
            )
        )
    return results


def _path(inp: DetectionInput, paths: SequentialPaths, b: int) -> DailyPath:
    return DailyPath(
        first_day=inp.first_day,
        statistic=tuple(float(x) for x in paths.statistic[b]),
        evidence_met=tuple(bool(x) for x in paths.evidence[b]),
        threshold_c=tuple(paths.threshold_at(b, d) for d in range(inp.n_days)),
    )


def _rates(
    inp: DetectionInput,
    config: DetectionConfig,
    days: FloatArray,
    failures: FloatArray,
    b: int,
) -> RateEvidence:
    """The batch's rate table and rate model against all other batches, over the window."""
    others_days = days.sum(axis=0) - days[b]
    others_fail = failures.sum(axis=0) - failures[b]
    seen = inp.bins_c[days[b] > 0]
    if config.probability_at_c is not None:
        at = config.probability_at_c
    elif seen.size:
        at = tuple(float(t) for t in range(int(seen.min()), int(seen.max()) + 2))
    else:
        at = ()
    return RateEvidence(
        bins=bin_rates(
            inp.bins_c, days[b], failures[b], others_days, others_fail, config.confidence
        ),
        model=fit_rate_model(
            inp.bins_c,
            days[b],
            failures[b],
            others_days,
            others_fail,
            direction=config.direction,
            at_c=at,
            confidence=config.confidence,
            days=config.probability_days,
        ),
    )


def _reasons(
    config: DetectionConfig,
    paths: SequentialPaths,
    b: int,
    last: int,
    seq: SequentialSummary,
) -> tuple[str, ...]:
    """Why the batch is, or is not, flagged, in words (dates, never day indexes)."""
    c = config
    if seq.alarm:
        when = f" on {seq.alarm_on.isoformat()}" if seq.alarm_on else ""
        head = (
            f"flagged{when}: the evidence rules held and the statistic reached the critical "
            f"value {seq.critical_value:.3g}"
        )
    else:
        head = (
            f"not flagged: the statistic never reached the critical value {seq.critical_value:.3g}"
            " on a day when the evidence rules held"
        )
    if paths.threshold_index[b, last] < 0:
        return (head, "no candidate threshold splits this batch's exposure")
    ob = int(paths.failures_beyond[b, last])
    sites = int(paths.sites_beyond[b, last])
    rr_lower = float(paths.rate_ratio_lower[b, last])
    rules = (
        (
            ob >= c.min_failures_beyond,
            f"{ob} failures beyond the threshold (need >= {c.min_failures_beyond})",
        ),
        (
            sites >= c.min_sites_beyond,
            f"failures beyond the threshold at {sites} sites (need >= {c.min_sites_beyond})",
        ),
        (
            bool(np.isfinite(rr_lower)) and rr_lower > c.min_rate_ratio_lower,
            f"rate ratio lower bound {rr_lower:.3g} (need > {c.min_rate_ratio_lower:g})",
        ),
    )
    out = [head]
    out += [("met now: " if ok else "not met now: ") + text for ok, text in rules]
    if seq.evidence_first_held_on is not None:
        out.append(f"the evidence rules first held on {seq.evidence_first_held_on.isoformat()}")
    out.append(
        f"statistic now {seq.statistic:.3g} (highest {seq.max_statistic:.3g}), critical value "
        f"{seq.critical_value:.3g}"
    )
    return tuple(out)
