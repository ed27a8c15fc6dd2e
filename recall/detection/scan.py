"""Threshold scan against a leave-one-batch-out reference (pure, numpy/scipy only).

Why this design: a batch is compared bin by bin with the failure rate of all *other* batches
in the same temperature bin (indirect standardisation). Expected failures therefore carry the
fleet-wide weather effect and the batch's own mix of cold and warm exposure (a batch installed
only at cold sites is expected to fail more). The test is then *conditional* on the batch's
own number of failures N: under H0 "the batch's excess is the same in all weather", the
failures beyond a threshold are Binomial(N, E_beyond / E_total). That cancels the batch's
all-weather level, so a decoy batch with 4x failures in any weather is not a cold signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special, stats

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Direction = Literal["below", "above"]


def binomial_llr(observed: FloatArray, total: FloatArray, pi: FloatArray) -> FloatArray:
    """One-sided log-likelihood ratio of "more than pi of the total lies beyond" (nats).

    O ln(O / N pi) + (N - O) ln((N - O) / N (1 - pi)) where O > N pi, else 0: the binomial
    likelihood at O / N against its value at pi (arrays broadcast).
    """
    o, n, p = np.broadcast_arrays(
        np.asarray(observed, dtype=np.float64),
        np.asarray(total, dtype=np.float64),
        np.asarray(pi, dtype=np.float64),
    )
    mean = n * p
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = special.xlogy(o, o / mean) + special.xlogy(n - o, (n - o) / (n - mean))
    return np.asarray(np.where(o > mean, llr, 0.0), dtype=np.float64)


def bin_groups(fleet_failures: FloatArray, min_failures: float) -> IntArray:
    """Group adjacent bins (ascending) so every group holds >= ``min_failures`` fleet failures.

    Why: a per-bin rate at the extremes rests on zero to two failures; merging sparse
    neighbours keeps the reference stable without smoothing away a step in the middle.
    """
    k = fleet_failures.shape[0]
    groups = np.zeros(k, dtype=np.int64)
    if min_failures <= 0 or k == 0:
        return np.arange(k, dtype=np.int64)
    group, acc = 0, 0.0
    for i in range(k):
        groups[i] = group
        acc += float(fleet_failures[i])
        if acc >= min_failures and i < k - 1:
            group, acc = group + 1, 0.0
    # A short tail group (too few failures) joins its neighbour.
    if acc < min_failures and group > 0:
        groups[groups == group] = group - 1
    return groups


def reference_rates(
    unit_days: FloatArray,
    failures: FloatArray,
    *,
    min_group_failures: float,
    prior_failures: float,
) -> FloatArray:
    """Per batch and bin, the failure rate of all *other* batches in that bin, shape (B, K).

    ``prior_failures`` pseudo-failures at the others' overall rate shrink each group's rate
    (a bin where the others had exposure but no failure is not a zero-risk bin).
    """
    groups = bin_groups(failures.sum(axis=0), min_group_failures)
    n_groups = int(groups.max()) + 1 if groups.size else 0
    gd = np.zeros((unit_days.shape[0], n_groups))
    gf = np.zeros((unit_days.shape[0], n_groups))
    np.add.at(gd.T, groups, unit_days.T)
    np.add.at(gf.T, groups, failures.T)
    other_d = gd.sum(axis=0, keepdims=True) - gd
    other_f = gf.sum(axis=0, keepdims=True) - gf
    tot_d = other_d.sum(axis=1, keepdims=True)
    tot_f = other_f.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        overall = np.where(tot_d > 0, tot_f / tot_d, 0.0)
        prior_d = np.where(overall > 0, prior_failures / overall, 0.0)
        num = other_f + prior_failures * (overall > 0)
        den = other_d + prior_d
        rate = np.where(den > 0, num / den, overall)
    # Floating-point subtraction can leave -0.0-ish residues for batches alone in a group.
    rate = np.maximum(rate, 0.0)
    return np.asarray(rate[:, groups], dtype=np.float64)


def beyond_mask(
    bins_c: IntArray, threshold_c: float, direction: Direction
) -> npt.NDArray[np.bool_]:
    """Bins beyond a threshold: ``bin < t`` for "below" (value < t), ``bin >= t`` for "above"."""
    if direction == "below":
        return np.asarray(bins_c < threshold_c)
    return np.asarray(bins_c >= threshold_c)


def candidate_thresholds(
    bins_c: IntArray, unit_days_by_bin: FloatArray, min_share: float
) -> FloatArray:
    """Whole-degree thresholds with at least ``min_share`` of fleet unit-days on each side."""
    total = float(unit_days_by_bin.sum())
    if bins_c.size < 2 or total <= 0:
        return np.zeros(0)
    cands = np.arange(int(bins_c.min()) + 1, int(bins_c.max()) + 1, dtype=np.float64)
    below = np.array([unit_days_by_bin[bins_c < t].sum() for t in cands])
    keep = (below >= min_share * total) & (total - below >= min_share * total)
    return np.asarray(cands[keep], dtype=np.float64)


@dataclass(frozen=True)
class ScanResult:
    """The best threshold of one batch and its scan-corrected one-sided p-value."""

    threshold_c: float | None
    p_value: float  # corrected for the scan
    p_value_single: float  # the chosen threshold's own one-sided binomial p-value
    n_thresholds: int  # distinct candidate splits (the Bonferroni factor)
    method: str  # "monte_carlo", "monte_carlo+bonferroni" or "bonferroni"


def _beyond_sums(
    values: FloatArray, bins_c: IntArray, thresholds: FloatArray, direction: Direction
) -> FloatArray:
    """Sum of ``values`` (..., K) over bins beyond each threshold -> (..., T)."""
    cum = np.concatenate([np.zeros((*values.shape[:-1], 1)), np.cumsum(values, axis=-1)], axis=-1)
    idx = np.searchsorted(bins_c, thresholds, side="left")  # number of bins with bin < t
    below = cum[..., idx]
    if direction == "below":
        return np.asarray(below)
    return np.asarray(cum[..., -1:] - below)


def scan_batch(
    observed: FloatArray,
    expected: FloatArray,
    bins_c: IntArray,
    thresholds: FloatArray,
    direction: Direction,
    *,
    draws: int | None,
    rng: np.random.Generator,
    stop_after_exceedances: int = 10,
) -> ScanResult:
    """Scan thresholds for one batch; return the best one and a scan-corrected p-value.

    The threshold maximises the one-sided conditional log-likelihood ratio of "rate ratio
    beyond != 1" (the maximum-likelihood change point, as in Kulldorff's scan statistic);
    ranking thresholds by their binomial p-value instead favours extreme thresholds with
    tiny expectations. Monte Carlo: under H0 the batch's N failures fall into bins in
    proportion to its expected failures (multinomial); the p-value is the share of draws whose
    maximum LLR is at least as large (Besag-Clifford sequential stopping once
    ``stop_after_exceedances`` draws reach it, so clearly null batches cost little). When no
    draw reaches it, the p-value is min(1/(draws+1), Bonferroni), which stays valid and lets
    Benjamini-Hochberg across many batches resolve p-values below the Monte Carlo floor.
    Without draws: Bonferroni over the distinct splits.
    """
    n = int(np.rint(observed.sum()))
    e_tot = float(expected.sum())
    if n == 0 or e_tot <= 0 or thresholds.size == 0:
        return ScanResult(None, 1.0, 1.0, 0, "none")
    pi = _beyond_sums(expected, bins_c, thresholds, direction) / e_tot
    valid = (pi > 1e-12) & (pi < 1 - 1e-12)
    if not valid.any():
        return ScanResult(None, 1.0, 1.0, 0, "none")
    thr, pi = thresholds[valid], pi[valid]
    obs = np.rint(_beyond_sums(observed, bins_c, thr, direction)).astype(np.int64)
    # Tables over every count a draw can produce: llr[t, o] and p[t, o] = P(Bin(n, pi_t) >= o).
    o_grid = np.arange(n + 1, dtype=np.float64)[None, :]
    llr = binomial_llr(o_grid, np.full(1, float(n)), pi[:, None])
    rows = np.arange(thr.size)
    llr_t = llr[rows, obs]
    best = float(llr_t.max())
    p_t = stats.binom.sf(obs - 1, n, pi)
    n_splits = int(np.unique(np.round(pi, 12)).size)
    if best <= 0:
        # No excess beyond any threshold: report the least unremarkable split, p = 1.
        pick = int(np.argmin(p_t))
        return ScanResult(float(thr[pick]), 1.0, float(p_t[pick]), n_splits, "no excess")
    tied = np.flatnonzero(llr_t >= best - 1e-9)
    # Equal statistics mean the batch had no exposure between those thresholds: take the middle.
    pick = int(tied[(tied.size - 1) // 2])
    threshold, p_single = float(thr[pick]), float(p_t[pick])
    bonferroni = min(1.0, float(p_t.min()) * n_splits)
    if not draws:
        return ScanResult(threshold, bonferroni, p_single, n_splits, "bonferroni")

    probs = expected / e_tot
    idx = np.searchsorted(bins_c, thr, side="left")  # bins_c is ascending
    done, exceed, chunk = 0, 0, 100
    while done < draws:
        m = min(chunk, draws - done)
        counts = rng.multinomial(n, probs, size=m)
        cum = np.concatenate([np.zeros((m, 1), dtype=np.int64), np.cumsum(counts, axis=1)], axis=1)
        below = cum[:, idx]
        sim_obs = below if direction == "below" else n - below
        sim_max = llr[rows[None, :], sim_obs].max(axis=1)
        exceed += int((sim_max >= best - 1e-9).sum())
        done += m
        if exceed >= stop_after_exceedances:
            return ScanResult(threshold, exceed / done, p_single, n_splits, "monte_carlo")
        chunk = min(chunk * 2, 1000)
    if exceed == 0:
        p_mc = min(1.0 / (done + 1), bonferroni)
        return ScanResult(threshold, p_mc, p_single, n_splits, "monte_carlo+bonferroni")
    return ScanResult(threshold, (exceed + 1) / (done + 1), p_single, n_splits, "monte_carlo")


def rate_ratio_ci(
    o_beyond: int, o_other: int, e_beyond: float, e_other: float, confidence: float
) -> tuple[float, float, float]:
    """Rate ratio beyond vs not beyond, with an exact (Clopper-Pearson) interval.

    Conditional on N = o_beyond + o_other, o_beyond ~ Binomial(N, p) with
    p/(1-p) = RR * e_beyond/e_other, so the exact interval for p maps to one for RR.
    """
    n = o_beyond + o_other
    if n == 0 or e_beyond <= 0 or e_other <= 0:
        return float("nan"), float("nan"), float("nan")
    base_odds = e_beyond / e_other
    # Clopper-Pearson bounds are beta quantiles (the same as binomtest(...).proportion_ci(
    # method="exact"), which is ~50x slower because it root-finds).
    tail = (1.0 - confidence) / 2.0
    p_lo = float(stats.beta.ppf(tail, o_beyond, n - o_beyond + 1)) if o_beyond > 0 else 0.0
    p_hi = float(stats.beta.ppf(1 - tail, o_beyond + 1, n - o_beyond)) if o_beyond < n else 1.0

    def to_rr(p: float) -> float:
        return float("inf") if p >= 1.0 else (p / (1.0 - p)) / base_odds

    return to_rr(o_beyond / n), to_rr(p_lo), to_rr(p_hi)
