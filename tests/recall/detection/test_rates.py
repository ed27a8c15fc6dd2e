"""The evidence a lead reads, on hand-checkable cases (pure: no database, no app): exact
Poisson intervals, the rate table, the Poisson rate model and its 30-day probabilities, and
the per-unit logistic fit where it belongs (one exposure per unit: the Challenger data)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from recall.detection.logistic import fit_logistic
from recall.detection.rates import bin_rates, fit_rate_model, poisson_interval


def test_exact_poisson_interval_by_hand():
    lo, hi = poisson_interval(np.array([0.0, 4.0]), np.array([1000.0, 2000.0]), 0.95)
    # Garwood: chi2(0.025, 2k) / 2 and chi2(0.975, 2k + 2) / 2 events; none seen: [0, 3.689].
    assert lo[0] == 0.0 and hi[0] == pytest.approx(3.68888 / 1000, rel=1e-5)
    assert lo[1] == pytest.approx(1.08987 / 2000, rel=1e-5)
    assert hi[1] == pytest.approx(10.24159 / 2000, rel=1e-5)
    lo0, hi0 = poisson_interval(np.array([1.0]), np.array([0.0]), 0.95)
    assert math.isnan(lo0[0]) and math.isnan(hi0[0])  # no exposure, no rate


def test_rate_table_per_bin_for_the_batch_and_the_others():
    table = bin_rates(
        np.array([-10, -9, 5]),
        np.array([500.0, 0.0, 2000.0]),
        np.array([4.0, 0.0, 1.0]),
        np.array([5000.0, 0.0, 20000.0]),
        np.array([5.0, 0.0, 10.0]),
        0.95,
    )
    assert table.bins_c == (-10, 5)  # a bin nobody was exposed in is left out
    assert table.rate[0] == pytest.approx(4 / 500 * 1000)  # per 1,000 unit-days
    assert table.others_rate[1] == pytest.approx(10 / 20000 * 1000)
    assert table.rate_ci[0] == pytest.approx(
        (1.08987 / 500 * 1000, 10.24159 / 500 * 1000), rel=1e-5
    )
    doc = table.to_json()
    assert doc[0]["bin_c"] == -10 and doc[0]["failures"] == 4 and doc[0]["unit_days"] == 500.0


def log_linear_fleet() -> tuple[np.ndarray, ...]:
    """Failures exactly on a log-linear model: batch 0.001 x 1.5 per degree colder, others
    0.001 x 1.1 per degree colder (x = bin midpoint), so the fit must return those."""
    bins = np.arange(-10, 6)
    x = bins + 0.5
    days = np.full(bins.size, 10_000.0)
    others_days = np.full(bins.size, 100_000.0)
    batch_rate = 0.001 * 1.5 ** (-x)
    others_rate = 0.001 * 1.1 ** (-x)
    return bins, days, days * batch_rate, others_days, others_days * others_rate


def test_rate_model_recovers_an_exact_log_linear_rate_and_its_30_day_probability():
    bins, days, fails, others_days, others_fails = log_linear_fleet()
    model = fit_rate_model(
        bins, days, fails, others_days, others_fails,
        direction="below", at_c=(-10.0, 0.0, 5.0), confidence=0.95, days=30,
    )  # fmt: skip
    assert model.fitted
    assert model.batch_per_degree == pytest.approx(1.5, rel=1e-6)
    assert model.others_per_degree == pytest.approx(1.1, rel=1e-6)
    assert model.per_degree_ratio == pytest.approx(1.5 / 1.1, rel=1e-6)
    lo, hi = model.per_degree_ratio_ci or (0.0, 0.0)
    assert lo < 1.5 / 1.1 < hi
    at_minus_10, at_0, at_5 = model.curve
    rate = 0.001 * 1.5**10  # per unit-day at -10 C
    assert at_minus_10.rate == pytest.approx(rate * 1000, rel=1e-6)
    assert at_minus_10.others_rate == pytest.approx(0.001 * 1.1**10 * 1000, rel=1e-6)
    assert at_minus_10.rate_ratio == pytest.approx(1.5**10 / 1.1**10, rel=1e-6)
    assert at_minus_10.probability == pytest.approx(1 - math.exp(-30 * rate), rel=1e-6)
    assert at_minus_10.probability_ci[0] < at_minus_10.probability < at_minus_10.probability_ci[1]
    # Colder is riskier: the 30-day probability falls as it gets warmer.
    assert at_minus_10.probability > at_0.probability > at_5.probability
    assert at_0.rate_ratio == pytest.approx(1.0, rel=1e-6)  # both are 0.001 at 0 C


def test_rate_model_matches_statsmodels_on_counts_and_reads_heat_per_degree_warmer():
    bins = np.array([20, 25, 30, 35])
    days = np.array([1000.0, 1000.0, 1000.0, 1000.0])
    fails = np.array([1.0, 2.0, 5.0, 9.0])
    others_days = np.array([9000.0, 9000.0, 9000.0, 9000.0])
    others_fails = np.array([10.0, 9.0, 12.0, 11.0])
    model = fit_rate_model(
        bins, days, fails, others_days, others_fails,
        direction="above", at_c=(), confidence=0.95,
    )  # fmt: skip
    x = np.concatenate([bins, bins]) + 0.5
    g = np.r_[np.ones(4), np.zeros(4)]
    ref = sm.GLM(
        np.r_[fails, others_fails],
        np.column_stack([np.ones(8), x, g, g * x]),
        family=sm.families.Poisson(),
        offset=np.log(np.r_[days, others_days]),
    ).fit()
    assert model.per_degree_ratio == pytest.approx(math.exp(ref.params[3]), rel=1e-6)
    assert model.batch_per_degree == pytest.approx(math.exp(ref.params[1] + ref.params[3]))
    assert model.per_degree_ratio is not None and model.per_degree_ratio > 1


def test_rate_model_says_why_it_is_not_fitted():
    bins = np.array([-5, 5])
    none = fit_rate_model(
        bins, np.ones(2), np.zeros(2), np.ones(2), np.ones(2),
        direction="below", at_c=(0.0,), confidence=0.95,
    )  # fmt: skip
    assert not none.fitted and "no failures" in none.note
    one_bin = fit_rate_model(
        bins, np.array([10.0, 0.0]), np.array([1.0, 0.0]), np.ones(2), np.ones(2),
        direction="below", at_c=(0.0,), confidence=0.95,
    )  # fmt: skip
    assert not one_bin.fitted and "one temperature" in one_bin.note


# Space shuttle O-ring thermal distress (any, per flight) and launch temperature (F) on the 23
# flights before Challenger (Dalal, Fowlkes and Hoadley 1989; Agresti, Categorical Data
# Analysis, section 5.1). One exposure per unit: the setting a per-unit logistic fits.
CHALLENGER_F = [66, 70, 69, 68, 67, 72, 73, 70, 57, 63, 70, 78, 67, 53, 67, 75, 70, 81, 76, 79,
                75, 76, 58]  # fmt: skip
CHALLENGER_DISTRESS = [0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1]


def test_logistic_reproduces_the_published_challenger_fit():
    temps = np.array(CHALLENGER_F, dtype=float)
    failed = np.array(CHALLENGER_DISTRESS, dtype=float)
    fit = fit_logistic(temps, np.ones(temps.size), failed, (31.0,))
    # Published: logit(p) = 15.043 - 0.2322 x, standard errors 7.379 and 0.1082, and a
    # predicted probability of distress of 0.9996 at 31 F, the launch temperature.
    assert fit.intercept == pytest.approx(15.043, abs=5e-4)
    assert fit.slope_per_c == pytest.approx(-0.2322, abs=5e-5)
    assert fit.intercept_se == pytest.approx(7.379, abs=5e-4)
    assert fit.slope_se == pytest.approx(0.1082, abs=5e-4)
    assert fit.probability_at[31.0] == pytest.approx(0.9996, abs=5e-5)
    assert (fit.n_units, fit.n_failed) == (23, 7)
