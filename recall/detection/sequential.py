"""The sequential test, day by day: what a run on each day of the window would have concluded.

For every batch b and day d, from the data up to d only:

1. the reference (``scan.reference_rates``): the other batches' failure rate per bin, so
   each bin's expected failures E carry the fleet-wide weather effect (a batch that has
   alarmed, in either direction, no longer counts in it: ``sequential_paths``);
2. for every candidate threshold t, the failures beyond it O and the batch's total N, and
   pi = E_beyond / E_total. Conditional on N, O ~ Binomial(N, pi) when the batch's excess is
   the same in all weather (a batch failing 4x everywhere is not a cold signal);
3. the statistic: the largest one-sided binomial log-likelihood ratio over the thresholds,
   max_t [O ln(O / N pi) + (N - O) ln((N - O) / N (1 - pi))] where O > N pi. It is the
   binomial maximised sequential probability ratio test (maxSPRT, Kulldorff et al. 2011)
   with the threshold scanned as well; the chosen threshold is the one that maximises it
   (``level_mixture_llr`` is the variant with a prior on the batch's level);
4. the evidence rules at that threshold: failures beyond, distinct sites beyond, and the
   exact lower confidence bound of the rate ratio.

A batch is flagged on the first day on which the evidence rules hold and the statistic
reaches the critical value; that value is calibrated by simulation for daily looks, the
scan over thresholds and the number of batches (``benchmarks/detection_sim.py``). Everything
is computed for all days at once from running totals, so one run yields the whole path and
the dates on which the evidence first held and the alarm went off. Pure numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from recall.detection.config import DetectionConfig
from recall.detection.inputs import DetectionInput
from recall.detection.scan import binomial_llr, reference_rates

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MAX_EXCLUSION_ROUNDS = 4
MIN_REFERENCE_BATCHES = 5


@dataclass(frozen=True, eq=False)
class SequentialPaths:
    """Per batch (rows) and day (columns), the test as a run on that day would see it.

    ``threshold_index`` points into ``thresholds_c`` (-1: no candidate threshold that day);
    the counts are those beyond (and in total) at that day's chosen threshold.
    """

    thresholds_c: FloatArray  # (T,)
    candidates_last: FloatArray  # thresholds with enough fleet exposure on the last day
    expected_last: FloatArray  # (B, K) expected failures per bin on the last day
    statistic: FloatArray  # (B, D) nats
    threshold_index: IntArray  # (B, D)
    failures_beyond: FloatArray  # (B, D)
    failures_total: FloatArray  # (B, D)
    expected_beyond: FloatArray  # (B, D)
    expected_total: FloatArray  # (B, D)
    unit_days_beyond: FloatArray  # (B, D)
    unit_days_total: FloatArray  # (B, D)
    sites_beyond: IntArray  # (B, D)
    rate_ratio_lower: FloatArray  # (B, D), nan where undefined
    evidence: BoolArray  # (B, D) the three evidence rules hold

    def threshold_at(self, b: int, d: int) -> float | None:
        """The chosen threshold of batch ``b`` on day ``d``."""
        i = int(self.threshold_index[b, d])
        return None if i < 0 else float(self.thresholds_c[i])

    def flags(self, critical_value: float) -> BoolArray:
        """(B, D): evidence rules met and the statistic at or above the critical value."""
        return np.asarray(self.evidence & (self.statistic >= critical_value))


def first_day(mask: BoolArray) -> IntArray:
    """Per row, the first column that is True, or -1."""
    if mask.shape[1] == 0:
        return np.full(mask.shape[0], -1, dtype=np.int64)
    first = np.argmax(mask, axis=1)
    return np.where(mask.any(axis=1), first, -1).astype(np.int64)


def threshold_grid(bins_c: IntArray, config: DetectionConfig) -> FloatArray:
    """The candidate thresholds: the configured ones, or every whole degree inside the bins."""
    if config.candidate_thresholds_c is not None:
        return np.array(sorted(config.candidate_thresholds_c), dtype=np.float64)
    if bins_c.size < 2:
        return np.zeros(0)
    return np.arange(int(bins_c.min()) + 1, int(bins_c.max()) + 1, dtype=np.float64)


def _beyond_sums(
    cumulative: FloatArray, bins_c: IntArray, thresholds: FloatArray, direction: str
) -> FloatArray:
    """Sum of ``cumulative`` (..., K) over the bins beyond each threshold -> (..., T)."""
    acc = np.concatenate(
        [np.zeros((*cumulative.shape[:-1], 1)), np.cumsum(cumulative, axis=-1)], axis=-1
    )
    below = acc[..., np.searchsorted(bins_c, thresholds, side="left")]
    return np.asarray(below if direction == "below" else acc[..., -1:] - below)


def _pick_middle(tied: BoolArray) -> IntArray:
    """Per (b, d), the middle True of ``tied`` along the last axis (-1 if none).

    Equal statistics mean the batch had no exposure between those thresholds: the middle
    one is the fairest estimate, as in ``scan.scan_batch``.
    """
    count = tied.sum(axis=-1)
    rank = np.cumsum(tied, axis=-1)
    target = ((count - 1) // 2 + 1)[..., None]
    pick = np.argmax(tied & (rank == target), axis=-1)
    return np.where(count > 0, pick, -1).astype(np.int64)


def _take(values: FloatArray, index: IntArray) -> FloatArray:
    """values[b, d, index[b, d]] (0 where the index is -1)."""
    got = np.take_along_axis(values, np.maximum(index, 0)[..., None], axis=-1)[..., 0]
    return np.asarray(np.where(index >= 0, got, 0.0), dtype=np.float64)


def expected_failures(
    inp: DetectionInput, config: DetectionConfig, excluded_from: IntArray | None = None
) -> FloatArray:
    """Running expected failures per batch, day and bin, shape (B, D, K): the batch's
    unit-days up to that day times the others' rate up to that day.

    ``excluded_from[b]`` is the day from which batch b no longer counts in the others'
    reference (its alarm day): a flagged batch's own failures would otherwise make every
    other batch look as if it failed less where it fails more, which matters most in a
    small fleet (a heat test in the shadow of a cold-sensitive batch, for example).
    """
    cum_days = np.cumsum(inp.unit_days, axis=1)
    cum_fail = np.cumsum(inp.failures, axis=1)
    expected = np.zeros_like(cum_days)
    n_b = cum_days.shape[0]
    if excluded_from is None:
        excluded_from = np.full(n_b, inp.n_days, dtype=np.int64)
    previous: tuple[FloatArray, BoolArray, FloatArray] | None = None
    for d in range(inp.n_days):
        counted = excluded_from > d
        if (
            previous is not None
            and np.array_equal(previous[0], cum_fail[:, d])
            and np.array_equal(previous[1], counted)
        ):
            # No new failure anywhere and no new exclusion: the rates stand.
            rate = previous[2]
        else:
            rate = reference_rates(
                cum_days[:, d] * counted[:, None],
                cum_fail[:, d] * counted[:, None],
                min_group_failures=config.reference_min_group_failures,
                prior_failures=config.reference_prior_failures,
            )
            previous = (cum_fail[:, d], counted, rate)
        expected[:, d] = cum_days[:, d] * rate
    return expected


def _sites_beyond(inp: DetectionInput, thresholds: FloatArray, direction: str) -> IntArray:
    """(B, D, T): distinct sites with a first failure beyond each threshold up to each day.

    Per (batch, site), the failures sorted from the least to the most extreme bin give,
    through a running minimum of their days, the site's first day beyond every threshold
    at once: the row that closes a bin holds it for the thresholds between its bin and the
    next one. A range of thresholds is added as +1/-1 at its ends (then summed), so the cost
    is one sort of the failures rather than one pass per threshold.
    """
    n_b, n_d, n_t = len(inp.batch_keys), inp.n_days, thresholds.size
    if inp.site_batch.size == 0 or n_t == 0:
        return np.zeros((n_b, n_d, n_t), dtype=np.int64)
    below = direction == "below"
    order = np.lexsort(
        (inp.site_day, inp.site_bin if below else -inp.site_bin, inp.site_code, inp.site_batch)
    )
    batch, code = inp.site_batch[order], inp.site_code[order]
    bins, days = inp.site_bin[order].astype(np.float64), inp.site_day[order]
    starts = np.r_[True, (batch[1:] != batch[:-1]) | (code[1:] != code[:-1])]
    group = np.cumsum(starts) - 1
    # Running minimum of the day within each (batch, site): later groups are shifted below
    # every earlier one, so the minimum never reaches back across a group.
    big = n_d + 1
    first = np.minimum.accumulate(days - group * big) + group * big
    ends = np.r_[starts[1:], True]
    edge = -np.inf if below else np.inf
    following = np.where(ends, -edge, np.r_[bins[1:], edge])
    # Only the last row of each bin in a group opens a range (a tie's range is empty).
    if below:  # beyond t: bin < t, so thresholds in (bin, next bin]
        lo = np.searchsorted(thresholds, bins, side="right")
        hi = np.searchsorted(thresholds, following, side="right")
    else:  # beyond t: bin >= t, so thresholds in (next bin, bin]
        lo = np.searchsorted(thresholds, following, side="right")
        hi = np.searchsorted(thresholds, bins, side="right")
    keep = hi > lo
    out = np.zeros((n_b, n_d, n_t + 1), dtype=np.int64)
    np.add.at(out, (batch[keep], first[keep], lo[keep]), 1)
    np.add.at(out, (batch[keep], first[keep], hi[keep]), -1)
    return np.asarray(np.cumsum(np.cumsum(out, axis=2)[:, :, :n_t], axis=1), dtype=np.int64)


def _rate_ratio_lower(
    o: FloatArray, n: FloatArray, e_beyond: FloatArray, e_total: FloatArray, confidence: float
) -> FloatArray:
    """Exact (Clopper-Pearson) lower bound of the rate ratio beyond vs not beyond, as
    ``scan.rate_ratio_ci`` computes it, for whole arrays (nan where undefined)."""
    e_other = e_total - e_beyond
    ok = (n > 0) & (e_beyond > 0) & (e_other > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_lo = np.where(
            o > 0, stats.beta.ppf((1.0 - confidence) / 2.0, np.maximum(o, 1), n - o + 1), 0.0
        )
        rr = (p_lo / (1.0 - p_lo)) / (e_beyond / e_other)
    return np.asarray(np.where(ok, rr, np.nan), dtype=np.float64)


def level_mixture_llr(
    o_beyond: FloatArray, n: FloatArray, e_beyond: FloatArray, e_total: FloatArray, a: float
) -> FloatArray:
    """Log-likelihood ratio of "rate x rho beyond the threshold" (rho >= 1, maximised) with
    the batch's all-weather level integrated over a Gamma(a, a) prior (mean 1).

    a -> 0 gives the conditional binomial LLR; a -> infinity the Poisson LLR at level 1.
    """
    e_other = e_total - e_beyond
    o_other = n - o_beyond
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.maximum(1.0, o_beyond * (a + e_other) / (e_beyond * (o_other + a)))
        llr = special.xlogy(o_beyond, rho) - (n + a) * np.log(
            (a + rho * e_beyond + e_other) / (a + e_beyond + e_other)
        )
    return np.asarray(np.where(e_beyond > 0, np.maximum(llr, 0.0), 0.0), dtype=np.float64)


def sequential_paths(
    inp: DetectionInput, config: DetectionConfig, critical_value: float | None = None
) -> SequentialPaths:
    """The statistic, the chosen threshold and the evidence rules for every batch and day.

    With a ``critical_value``, a batch leaves the others' reference from the day it alarms,
    in this test's direction or in the opposite one: the reference should be made of batches
    whose failures do not depend on the weather. A batch failing 20x in the cold otherwise
    makes every other batch look as if it failed more in the warm, and in a small fleet a
    heat test then flags a batch that merely fails more in all weather. Since an exclusion
    can move other alarms, the paths are recomputed until the alarm days stand (at most
    ``MAX_EXCLUSION_ROUNDS`` times; once or twice in practice). A fleet of fewer than
    ``MIN_REFERENCE_BATCHES`` batches keeps them all (with two batches, each is the other's
    only reference and neither can be told apart as the odd one), and at most a third of
    the batches leave, the earliest alarms first.
    """
    excluded = np.full(len(inp.batch_keys), inp.n_days, dtype=np.int64)
    thresholds = threshold_grid(inp.bins_c, config)
    sites = _sites_beyond(inp, thresholds, config.direction)
    paths = _paths(inp, config, excluded, sites)
    exposed = int((inp.unit_days.sum(axis=(1, 2)) > 0).sum())
    if critical_value is None or exposed < MIN_REFERENCE_BATCHES:
        return paths
    opposite = replace(config, direction="above" if config.direction == "below" else "below")
    opposite_sites = _sites_beyond(inp, thresholds, opposite.direction)
    for _ in range(MAX_EXCLUSION_ROUNDS):
        alarm = np.minimum(
            _alarm_days(paths, critical_value, inp.n_days),
            _alarm_days(
                _paths(inp, opposite, excluded, opposite_sites), critical_value, inp.n_days
            ),
        )
        alarm = _earliest(alarm, exposed // 3, inp.n_days)
        if np.array_equal(alarm, excluded):
            break
        excluded = alarm
        paths = _paths(inp, config, excluded, sites)
    return paths


def _earliest(alarm: IntArray, keep: int, never: int) -> IntArray:
    """Only the ``keep`` earliest alarm days (ties by batch order); the others: never."""
    order = np.lexsort((np.arange(alarm.size), alarm))
    out = np.full_like(alarm, never)
    chosen = order[:keep]
    out[chosen] = alarm[chosen]
    return out


def _alarm_days(paths: SequentialPaths, critical_value: float, never: int) -> IntArray:
    alarm = first_day(paths.flags(critical_value))
    return np.where(alarm >= 0, alarm, never).astype(np.int64)


def _paths(
    inp: DetectionInput, config: DetectionConfig, excluded: IntArray, sites_by_threshold: IntArray
) -> SequentialPaths:
    direction = config.direction
    thresholds = threshold_grid(inp.bins_c, config)
    expected = expected_failures(inp, config, excluded)
    cum_fail = np.cumsum(inp.failures, axis=1)
    cum_days = np.cumsum(inp.unit_days, axis=1)
    e_beyond = _beyond_sums(expected, inp.bins_c, thresholds, direction)  # (B, D, T)
    o_beyond = np.rint(_beyond_sums(cum_fail, inp.bins_c, thresholds, direction))
    d_beyond = _beyond_sums(cum_days, inp.bins_c, thresholds, direction)
    e_total = expected.sum(axis=-1)
    n_total = np.rint(cum_fail.sum(axis=-1))
    d_total = cum_days.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.where(e_total[..., None] > 0, e_beyond / e_total[..., None], 0.0)
    valid = (pi > 1e-12) & (pi < 1 - 1e-12)
    candidate = np.ones((inp.n_days, thresholds.size), dtype=bool)
    if config.candidate_thresholds_c is None:
        # Thresholds with too little fleet exposure on one side that day are not tested.
        fleet = _beyond_sums(cum_days.sum(axis=0), inp.bins_c, thresholds, direction)  # (D, T)
        total = cum_days.sum(axis=(0, 2))[:, None]
        share = config.min_exposure_share * total
        candidate = (fleet >= share) & (total - fleet >= share) & (total > 0)
        valid &= candidate[None, :, :]
    if config.level_prior_failures > 0:
        stat_t = level_mixture_llr(
            o_beyond, n_total[..., None], e_beyond, e_total[..., None], config.level_prior_failures
        )
    else:
        stat_t = binomial_llr(o_beyond, n_total[..., None], pi)
    llr = np.where(valid, stat_t, -np.inf)
    statistic = np.max(llr, axis=-1, initial=-np.inf)
    has = np.isfinite(statistic)
    tied = valid & (llr >= statistic[..., None] - 1e-9)
    pick = np.where(has, _pick_middle(tied), -1)
    statistic = np.where(has, statistic, 0.0)

    o_star, e_star = _take(o_beyond, pick), _take(e_beyond, pick)
    sites = _take(sites_by_threshold.astype(np.float64), pick)
    rr_lower = _rate_ratio_lower(o_star, n_total, e_star, e_total, config.confidence)
    evidence = (
        (pick >= 0)
        & (o_star >= config.min_failures_beyond)
        & (sites >= config.min_sites_beyond)
        & (np.nan_to_num(rr_lower, nan=-np.inf) > config.min_rate_ratio_lower)
    )
    return SequentialPaths(
        thresholds_c=thresholds,
        candidates_last=thresholds[candidate[-1]] if inp.n_days else thresholds[:0],
        expected_last=expected[:, -1] if inp.n_days else np.zeros((len(inp.batch_keys), 0)),
        statistic=np.asarray(statistic, dtype=np.float64),
        threshold_index=pick,
        failures_beyond=o_star,
        failures_total=n_total,
        expected_beyond=e_star,
        expected_total=e_total,
        unit_days_beyond=_take(d_beyond, pick),
        unit_days_total=d_total,
        sites_beyond=np.rint(sites).astype(np.int64),
        rate_ratio_lower=rr_lower,
        evidence=np.asarray(evidence),
    )
