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
