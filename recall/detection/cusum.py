"""Poisson CUSUM of observed against expected failures beyond a threshold (pure numpy).

For weekly counts O_w with expected E_w under H0 and the alternative "rate x rho", the
log-likelihood ratio of week w is O_w ln(rho) - (rho - 1) E_w. The CUSUM
S_w = max(0, S_{w-1} + O_w ln(rho) - (rho - 1) E_w) alarms at the first week S_w >= h
(Lucas 1985, in its likelihood-ratio scaling; h is then in nats).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CusumPath:
    """CUSUM statistic per week for a set of series, shape (B, W)."""

    statistic: FloatArray

    def last(self) -> FloatArray:
        """Statistic at the last week (0 for an empty series)."""
        if self.statistic.shape[1] == 0:
            return np.zeros(self.statistic.shape[0])
        return np.asarray(self.statistic[:, -1])

    def maximum(self) -> FloatArray:
        """Largest statistic reached so far (alarm iff >= h)."""
        if self.statistic.shape[1] == 0:
            return np.zeros(self.statistic.shape[0])
        return np.asarray(self.statistic.max(axis=1))

    def first_alarm(self, h: float) -> npt.NDArray[np.int64]:
        """First week index with statistic >= h, or -1."""
        hit = self.statistic >= h
        first = np.argmax(hit, axis=1)
        return np.where(hit.any(axis=1), first, -1).astype(np.int64)


def batch_level(
    o_other: FloatArray,
    e_other: FloatArray,
    o_all: FloatArray,
    e_all: FloatArray,
    prior_weight: float,
) -> FloatArray:
    """Each batch's own failure level where the threshold does not bite, never below 1.

    The level is the rate of observed to expected failures on the not-beyond side, as the
    posterior mean of a Gamma-Poisson model whose prior is centred on the batch's
    all-weather level ``o_all / e_all`` (the level under "no threshold effect") and worth
    ``prior_weight`` expected failures: (o_other + w * o_all / e_all) / (e_other + w).
    Why: a thick not-beyond side speaks for itself (a cold-sensitive batch keeps its level
    near 1); a thin one, often one the scan chose because it happened to be quiet, falls
    back on the batch's all-weather level, so a batch failing 4x in all weather is not
    taken for a normal batch failing 4x in the cold. The floor of 1 keeps the scan's
    choice of a quiet not-beyond side from lowering the expectation beyond.
    """
    if prior_weight < 0:
        raise ValueError("the level's prior weight must be >= 0")
    o_other, e_other = np.asarray(o_other, dtype=np.float64), np.asarray(e_other, dtype=np.float64)
    o_all, e_all = np.asarray(o_all, dtype=np.float64), np.asarray(e_all, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        prior_mean = np.where(e_all > 0, o_all / e_all, 1.0)
        num = o_other + prior_weight * prior_mean
        den = e_other + prior_weight
        level = np.where(den > 0, num / den, prior_mean)
    return np.asarray(np.maximum(1.0, level), dtype=np.float64)


def poisson_cusum(observed: FloatArray, expected: FloatArray, rate_ratio: float) -> CusumPath:
    """Run a Poisson CUSUM on every row of ``observed``/``expected`` (shape (B, W))."""
    if rate_ratio <= 1.0:
        raise ValueError("the CUSUM's target rate ratio must be above 1")
    obs = np.asarray(observed, dtype=np.float64)
    exp = np.asarray(expected, dtype=np.float64)
    if obs.shape != exp.shape or obs.ndim != 2:
        raise ValueError("observed and expected must both have shape (series, weeks)")
    increments = obs * np.log(rate_ratio) - (rate_ratio - 1.0) * exp
    out = np.zeros_like(increments)
    s = np.zeros(obs.shape[0])
    for w in range(obs.shape[1]):
        s = np.maximum(0.0, s + increments[:, w])
        out[:, w] = s
    return CusumPath(out)
