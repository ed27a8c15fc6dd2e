"""A per-unit logistic fit: P(failed) against one temperature per unit (statsmodels).

Use it only where each unit has exactly one exposure, as in the Challenger O-ring data
(one launch temperature per flight; ``tests/recall/detection/test_rates.py`` reproduces the
published fit). Detection does not use it: a fleet is watched day by day over a season and
a unit's first failure ends its watch, so "the coldest temperature a unit saw" is cut short
for the units that fail early, which makes early failures look warm (survival bias).
Detection reports failure rates per unit-day instead (``rates.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LogisticFit:
    """Binomial GLM (logit link) of "failed" on each unit's one temperature."""

    intercept: float | None
    slope_per_c: float | None
    intercept_se: float | None
    slope_se: float | None
    n_units: int
    n_failed: int
    probability_at: dict[float, float] = field(default_factory=dict)
    note: str = ""

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict; temperatures become string keys."""
        return {
            "intercept": self.intercept,
            "slope_per_c": self.slope_per_c,
            "intercept_se": self.intercept_se,
            "slope_se": self.slope_se,
            "n_units": self.n_units,
            "n_failed": self.n_failed,
            "probability_at": {f"{t:g}": p for t, p in self.probability_at.items()},
            "note": self.note,
        }


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def fit_logistic(
    temperature: np.ndarray, units: np.ndarray, failed: np.ndarray, at_c: tuple[float, ...]
) -> LogisticFit:
    """Fit the grouped binomial GLM with statsmodels; a degenerate batch gets ``None`` fields.

    Grouped data (units, failed per temperature) gives the same estimates as one row per
    unit, at a fraction of the cost.
    """
    units = np.asarray(units, dtype=np.float64)
    failed = np.asarray(failed, dtype=np.float64)
    x = np.asarray(temperature, dtype=np.float64)
    keep = units > 0
    x, units, failed = x[keep], units[keep], failed[keep]
    n_units, n_failed = int(units.sum()), int(failed.sum())
    empty = LogisticFit(None, None, None, None, n_units, n_failed)
    if n_units == 0:
        return LogisticFit(None, None, None, None, 0, 0, note="no units")
    if n_failed == 0 or n_failed == n_units:
        return LogisticFit(None, None, None, None, n_units, n_failed, note="one outcome only")
    if np.unique(x).size < 2:
        return LogisticFit(None, None, None, None, n_units, n_failed, note="one temperature only")
    endog = np.column_stack([failed, units - failed])
    # statsmodels is imported here, when a fit is due: it takes about a second to load,
    # which every API process and every worker would pay at start-up for nothing.
    import statsmodels.api as sm

    exog = sm.add_constant(x, has_constant="add")
    note = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
        except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - numerical guard
            return LogisticFit(**{**empty.__dict__, "note": f"fit failed: {exc}"})
    if any("separation" in str(w.message).lower() for w in caught):
        note = "perfect or quasi-perfect separation; estimates unreliable"
    params, bse = np.asarray(res.params), np.asarray(res.bse)
    at = np.asarray(at_c, dtype=np.float64)
    probs = res.predict(sm.add_constant(at, has_constant="add")) if at.size else np.zeros(0)
    return LogisticFit(
        intercept=_finite(params[0]),
        slope_per_c=_finite(params[1]),
        intercept_se=_finite(bse[0]),
        slope_se=_finite(bse[1]),
        n_units=n_units,
        n_failed=n_failed,
        probability_at={float(t): float(p) for t, p in zip(at, probs, strict=True)},
        note=note,
    )
