"""Evidence a lead can read, for one batch against the other batches of the fleet:

* per temperature bin, the failure rate per 1,000 unit-days of the batch and of the other
  batches, with exact (Garwood) Poisson intervals;
* a Poisson regression of the failures on temperature, with the unit-days as exposure
  (offset) and a batch-vs-others interaction: how much faster the batch's rate grows per
  degree beyond than the others' rate does, with its interval;
* from that rate model, the batch's and the others' rate and the probability that a unit
  fails within 30 days at a steady temperature, over a range of temperatures.

Rates per unit-day at risk avoid the survival bias of a per-unit logistic fit on the most
extreme temperature seen: a unit that fails early stops being observed, so its "coldest
temperature" is cut short and early failures look warm. ``logistic.py`` is kept for data
where each unit has exactly one exposure. Pure: numpy, scipy and statsmodels.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]
PER = 1000.0  # rates are reported per 1,000 unit-days

METHOD_NOTE = (
    "Rates are failures per 1,000 unit-days at risk at that day's temperature (a unit leaves "
    "the risk set at its first failure), with exact Poisson intervals. The model is a Poisson "
    "regression of failures on temperature with log(unit-days) as offset and a batch-vs-others "
    "interaction; 30-day probabilities are 1 - exp(-30 x rate) at a steady temperature. A "
    "per-unit logistic fit on the coldest temperature seen is not used: each unit is watched "
    "for many days and its first failure ends its watch, which biases it (survival); "
    "recall.detection.logistic fits it only where each unit has one exposure."
)


def poisson_interval(
    failures: FloatArray, exposure: FloatArray, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """Exact (Garwood) interval of a Poisson rate failures / exposure (nan without exposure)."""
    k = np.asarray(failures, dtype=np.float64)
    t = np.asarray(exposure, dtype=np.float64)
    tail = (1.0 - confidence) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, stats.chi2.ppf(tail, 2 * np.maximum(k, 1)) / 2.0, 0.0) / t
        hi = stats.chi2.ppf(1.0 - tail, 2 * k + 2) / 2.0 / t
    ok = t > 0
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


@dataclass(frozen=True)
class BinRates:
    """Per whole-degree bin: the batch's and the others' failures, unit-days and rates
    (per 1,000 unit-days) with exact intervals. Arrays of equal length, bins ascending."""

    bins_c: tuple[int, ...]
    unit_days: tuple[float, ...]
    failures: tuple[int, ...]
    rate: tuple[float, ...]
    rate_ci: tuple[tuple[float, float], ...]
    others_unit_days: tuple[float, ...]
    others_failures: tuple[int, ...]
    others_rate: tuple[float, ...]
    others_rate_ci: tuple[tuple[float, float], ...]

    def to_json(self) -> list[dict[str, object]]:
        """One object per bin."""
        return [
            {
                "bin_c": self.bins_c[i],
                "unit_days": self.unit_days[i],
                "failures": self.failures[i],
                "rate_per_1000": json_number(self.rate[i]),
                "rate_ci": json_pair(self.rate_ci[i]),
                "others_unit_days": self.others_unit_days[i],
                "others_failures": self.others_failures[i],
                "others_rate_per_1000": json_number(self.others_rate[i]),
                "others_rate_ci": json_pair(self.others_rate_ci[i]),
            }
            for i in range(len(self.bins_c))
        ]


def json_number(x: float | None) -> float | None:
    """JSON has no nan/inf (both become null: an infinite ratio has no failures on one side);
    six significant digits are plenty."""
    return None if x is None or not math.isfinite(x) else float(f"{x:.6g}")


def json_pair(ci: tuple[float, float]) -> list[float | None]:
    """An interval for JSON (see ``json_number``)."""
    return [json_number(ci[0]), json_number(ci[1])]


def bin_rates(
    bins_c: npt.NDArray[np.int64],
    unit_days: FloatArray,
    failures: FloatArray,
    others_unit_days: FloatArray,
    others_failures: FloatArray,
    confidence: float,
) -> BinRates:
    """The rate table over the bins where the batch or the others had exposure."""
    keep = (unit_days > 0) | (others_unit_days > 0)
    d, f = unit_days[keep], failures[keep]
    od, of = others_unit_days[keep], others_failures[keep]
    lo, hi = poisson_interval(f, d, confidence)
    olo, ohi = poisson_interval(of, od, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(d > 0, f / d, np.nan) * PER
        orate = np.where(od > 0, of / od, np.nan) * PER
    return BinRates(
        bins_c=tuple(int(b) for b in bins_c[keep]),
        unit_days=tuple(float(x) for x in d),
        failures=tuple(round(float(x)) for x in f),
        rate=tuple(float(x) for x in rate),
        rate_ci=tuple((float(a) * PER, float(b) * PER) for a, b in zip(lo, hi, strict=True)),
        others_unit_days=tuple(float(x) for x in od),
        others_failures=tuple(round(float(x)) for x in of),
        others_rate=tuple(float(x) for x in orate),
        others_rate_ci=tuple(
            (float(a) * PER, float(b) * PER) for a, b in zip(olo, ohi, strict=True)
        ),
    )


@dataclass(frozen=True)
class RatePoint:
    """The rate model at one steady temperature (rates per 1,000 unit-days)."""

    temperature_c: float
    rate: float
    rate_ci: tuple[float, float]
    others_rate: float
    rate_ratio: float  # batch / others
    rate_ratio_ci: tuple[float, float]
    probability: float  # the batch's unit fails within ``days`` days
    probability_ci: tuple[float, float]
    others_probability: float

    def to_json(self) -> dict[str, object]:
        return {
            "temperature_c": self.temperature_c,
            "rate_per_1000": json_number(self.rate),
            "rate_ci": json_pair(self.rate_ci),
            "others_rate_per_1000": json_number(self.others_rate),
            "rate_ratio": json_number(self.rate_ratio),
            "rate_ratio_ci": json_pair(self.rate_ratio_ci),
            "probability": json_number(self.probability),
            "probability_ci": json_pair(self.probability_ci),
            "others_probability": json_number(self.others_probability),
        }


@dataclass(frozen=True)
class RateModel:
    """The Poisson regression and what it implies. Per-degree ratios are per degree
    *beyond* (colder for a cold test, warmer for a heat test)."""

    fitted: bool
    note: str
    days: int
    per_degree_ratio: float | None  # batch's per-degree ratio / the others' (interaction)
    per_degree_ratio_ci: tuple[float, float] | None
    batch_per_degree: float | None
    others_per_degree: float | None
    curve: tuple[RatePoint, ...] = ()

    def to_json(self) -> dict[str, object]:
        ci = self.per_degree_ratio_ci
        return {
            "fitted": self.fitted,
            "note": self.note,
            "days": self.days,
            "per_degree_ratio": json_number(self.per_degree_ratio),
            "per_degree_ratio_ci": None if ci is None else json_pair(ci),
            "batch_per_degree": json_number(self.batch_per_degree),
            "others_per_degree": json_number(self.others_per_degree),
            "curve": [p.to_json() for p in self.curve],
        }


def fit_rate_model(
    bins_c: npt.NDArray[np.int64],
    unit_days: FloatArray,
    failures: FloatArray,
    others_unit_days: FloatArray,
    others_failures: FloatArray,
    *,
    direction: str,
    at_c: tuple[float, ...],
    confidence: float,
    days: int = 30,
) -> RateModel:
    """Fit log rate = a + b x + c batch + d batch x (x = bin midpoint, C) by maximum
    likelihood with statsmodels; a degenerate case returns ``fitted=False`` and says why."""
    empty = RateModel(False, "", days, None, None, None, None)
    if failures.sum() == 0 or others_failures.sum() == 0:
        return RateModel(**{**empty.__dict__, "note": "no failures in the batch or the others"})
    x_all = np.concatenate([bins_c, bins_c]).astype(np.float64) + 0.5
    g = np.concatenate([np.ones(bins_c.size), np.zeros(bins_c.size)])
    y = np.concatenate([failures, others_failures])
    t = np.concatenate([unit_days, others_unit_days])
    keep = t > 0
    x_all, g, y, t = x_all[keep], g[keep], y[keep], t[keep]
    if np.unique(x_all[g == 1]).size < 2:
        return RateModel(**{**empty.__dict__, "note": "the batch saw one temperature bin only"})
    centre = float(np.average(x_all, weights=t))
    xc = x_all - centre
    exog = np.column_stack([np.ones_like(xc), xc, g, g * xc])
    # statsmodels is imported here, when a model is due: it takes about a second to load,
    # which every API process and every worker would pay at start-up for nothing.
    import statsmodels.api as sm

    note = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.GLM(y, exog, family=sm.families.Poisson(), offset=np.log(t)).fit()
        except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - numerical guard
            return RateModel(**{**empty.__dict__, "note": f"fit failed: {exc}"})
    if caught:
        note = "; ".join(sorted({str(w.message).split("\n")[0] for w in caught}))
    params = np.asarray(res.params, dtype=np.float64)
    cov = np.asarray(res.cov_params(), dtype=np.float64)
    if not np.all(np.isfinite(params)) or not np.all(np.isfinite(cov)):
        return RateModel(**{**empty.__dict__, "note": "the fit did not converge"})
    sign = -1.0 if direction == "below" else 1.0
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    d_se = math.sqrt(max(cov[3, 3], 0.0))
    if d_se > 5.0:
        # A standard error of e^5 per degree: the batch had failures on one side only.
        note = "; ".join(x for x in (note, "the interaction is barely estimable") if x)
    interaction = (
        _exp(sign * params[3] - z * d_se),
        _exp(sign * params[3] + z * d_se),
    )
    curve = []
    for temp in at_c:
        x = float(temp) - centre
        batch_v = np.array([1.0, x, 1.0, x])
        others_v = np.array([1.0, x, 0.0, 0.0])
        ratio_v = np.array([0.0, 0.0, 1.0, x])
        eta, eta_se = _linear(params, cov, batch_v)
        eta_o, _ = _linear(params, cov, others_v)
        lr, lr_se = _linear(params, cov, ratio_v)
        rate = _exp(eta)
        lo, hi = _exp(eta - z * eta_se), _exp(eta + z * eta_se)
        curve.append(
            RatePoint(
                temperature_c=float(temp),
                rate=rate * PER,
                rate_ci=(lo * PER, hi * PER),
                others_rate=_exp(eta_o) * PER,
                rate_ratio=_exp(lr),
                rate_ratio_ci=(_exp(lr - z * lr_se), _exp(lr + z * lr_se)),
                probability=-math.expm1(-days * rate),
                probability_ci=(-math.expm1(-days * lo), -math.expm1(-days * hi)),
                others_probability=-math.expm1(-days * _exp(eta_o)),
            )
        )
    return RateModel(
        fitted=True,
        note=note,
        days=days,
        per_degree_ratio=_exp(sign * params[3]),
        per_degree_ratio_ci=interaction,
        batch_per_degree=_exp(sign * (params[1] + params[3])),
        others_per_degree=_exp(sign * params[1]),
        curve=tuple(curve),
    )


def _exp(x: float) -> float:
    """exp() that saturates to inf instead of raising (a coefficient can run off when the
    batch has no failure on one side)."""
    return math.exp(x) if x < 700 else math.inf


def _linear(params: FloatArray, cov: FloatArray, v: FloatArray) -> tuple[float, float]:
    """A linear combination of the coefficients and its standard error."""
    return float(v @ params), math.sqrt(max(float(v @ cov @ v), 0.0))
