"""Hand-checkable cases for the pure detection statistics (no database)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from recall.detection.cusum import batch_level, poisson_cusum
from recall.detection.evidence import EXTRA_JSON_KEYS, REQUIRED_JSON_KEYS, BatchResult
from recall.detection.exposure_product import weekly_unit_days
from recall.detection.inputs import ExposureCell, FailureSite, LogisticCell
from recall.detection.logistic import fit_logistic
from recall.detection.scan import rate_ratio_ci, reference_rates
from recall.detection.statistics import DetectionConfig, bh_qvalues, detect

# Exact arithmetic for hand checks: no bin merging, no shrinkage, Bonferroni scan correction.
PLAIN = DetectionConfig(
    reference_min_group_failures=0,
    reference_prior_failures=0,
    monte_carlo_draws=None,
)

Fleet = tuple[list[ExposureCell], list[FailureSite], dict[str, int]]


def add_batch(
    fleet: Fleet,
    key: str,
    per_bin: dict[int, tuple[float, int]],
    sites: tuple[str, ...] = ("s1", "s2", "s3"),
    units: int = 1000,
    week: int = 0,
) -> None:
    """Add a batch: {bin_c: (unit_days, failures)}; failures go round-robin over ``sites``."""
    cells, failure_sites, units_per_batch = fleet
    i = 0
    for bin_c, (unit_days, failures) in per_bin.items():
        cells.append(ExposureCell(key, week, bin_c, unit_days, failures))
        for _ in range(failures):
            failure_sites.append(FailureSite(key, sites[i % len(sites)], bin_c))
            i += 1
    units_per_batch[key] = units


def new_fleet() -> Fleet:
    return [], [], {}


def run(fleet: Fleet, config: DetectionConfig = PLAIN, logistic=()) -> dict[str, BatchResult]:
    cells, sites, units = fleet
    return {r.batch_key: r for r in detect(cells, sites, list(logistic), units, config)}


def normal_fleet(n: int = 6) -> Fleet:
    """n batches with the same weather effect: rate 0.004 below 0 C and 0.002 above."""
    fleet = new_fleet()
    for i in range(n):
        add_batch(fleet, f"N{i}", {-10: (2000.0, 8), 5: (4000.0, 8)})
    return fleet


# ---- reference -----------------------------------------------------------------------


def test_reference_excludes_the_batch_under_test():
    fleet = new_fleet()
    add_batch(fleet, "A", {-10: (1000.0, 10), 5: (1000.0, 1)})
    add_batch(fleet, "B", {-10: (1000.0, 2), 5: (1000.0, 2)})
    res = run(fleet, replace(PLAIN, candidate_thresholds_c=(0.0,)))
    a = res["A"]
    # B's rate alone (2/1000 in each bin), not the pooled 12/2000 that A would inflate.
    assert a.expected_below == pytest.approx(2.0)
    assert a.expected_above == pytest.approx(2.0)
    assert a.rate_ratio == pytest.approx((10 / 2) / (1 / 2))
    assert a.p_value_single == pytest.approx(stats.binom.sf(9, 11, 0.5))
    assert res["B"].expected_below == pytest.approx(1000 * 10 / 1000)


def test_reference_rates_per_bin_leave_one_out():
    ud = np.array([[100.0, 100.0], [100.0, 300.0], [200.0, 100.0]])
    fl = np.array([[5.0, 0.0], [1.0, 3.0], [3.0, 1.0]])
    rate = reference_rates(ud, fl, min_group_failures=0, prior_failures=0)
    assert rate[0, 0] == pytest.approx((1 + 3) / (100 + 200))
    assert rate[1, 1] == pytest.approx((0 + 1) / (100 + 100))
    assert rate[2, 0] == pytest.approx((5 + 1) / (100 + 100))


# ---- null cases ----------------------------------------------------------------------


def test_fleet_wide_cold_effect_alone_does_not_flag():
    for config in (PLAIN, DetectionConfig()):
        res = run(normal_fleet(), config)
        assert len(res) == 6
        for r in res.values():
            assert not r.flagged
            # Within the batch cold is 2x warm, but so it is for everyone else (the default
            # config shrinks each bin's rate a little toward the mean, hence the tolerance).
            assert r.rate_ratio == pytest.approx(1.0, rel=0.05)
            assert r.p_value > 0.5


def test_four_times_all_weather_batch_does_not_flag():
    fleet = normal_fleet()
    add_batch(fleet, "DECOY", {-10: (2000.0, 32), 5: (4000.0, 32)})
    res = run(fleet, PLAIN)
    decoy = res["DECOY"]
    assert decoy.expected_below == pytest.approx(8.0)
    assert decoy.failures_below == 32
    assert decoy.rate_ratio == pytest.approx(1.0)
    assert not decoy.flagged
    assert not decoy.cusum.alarm
    assert not run(fleet, DetectionConfig())["DECOY"].flagged


def test_cold_installed_batch_does_not_flag():
    fleet = normal_fleet()
    add_batch(fleet, "COLDSITES", {-10: (10000.0, 40), 5: (500.0, 1)})
    r = run(fleet, PLAIN)["COLDSITES"]
    assert r.expected_below == pytest.approx(40.0)
    assert r.rate_ratio == pytest.approx(1.0)
    assert not r.flagged
    assert not run(fleet, DetectionConfig())["COLDSITES"].flagged


# ---- a clear cold batch and the evidence rules ------------------------------------------

GRID = (-12, -10, -8, -6, -4, -2, 0, 2, 4, 6)


def graded_fleet(cold: dict[int, int], cold_sites: tuple[str, ...] = ("s1", "s2", "s3")) -> Fleet:
    """Six batches failing 2 per 1000 unit-days everywhere, plus X with ``cold`` extra."""
    fleet = new_fleet()
    for i in range(6):
        add_batch(fleet, f"N{i}", {b: (1000.0, 2) for b in GRID})
    add_batch(fleet, "X", {b: (1000.0, cold.get(b, 2)) for b in GRID}, sites=cold_sites)
    return fleet


def test_clear_cold_batch_at_several_sites_flags_with_the_right_threshold():
    res = run(graded_fleet({-12: 12, -10: 12, -8: 12}), DetectionConfig())
    x = res["X"]
    assert x.flagged
    assert x.evidence_met
    # Bins are whole degrees: "below t" = bin < t, so -7 and -6 both split after bin -8.
    assert x.threshold_c is not None and -7.0 <= x.threshold_c <= -6.0
    assert x.failures_below == 36 and x.failures_above == 14
    assert x.sites_with_failures_below == 3
    assert x.q_value <= 0.05
    assert x.cusum.alarm
    assert not any(r.flagged for k, r in res.items() if k != "X")


def test_one_site_only_blocks_the_flag():
    res = run(graded_fleet({-12: 12, -10: 12, -8: 12}, cold_sites=("s1",)), DetectionConfig())
    x = res["X"]
    assert x.sites_with_failures_below == 1
    assert not x.flagged and not x.evidence_met
    assert any(r.startswith("not met") and "sites" in r for r in x.reasons)
    assert run(
        graded_fleet({-12: 12, -10: 12, -8: 12}, cold_sites=("s1",)),
        DetectionConfig(min_sites_beyond=1),
    )["X"].flagged


def test_two_failures_beyond_block_the_flag():
    fleet = new_fleet()
    for i in range(6):
        add_batch(fleet, f"N{i}", {-10: (200.0, 1), 5: (10000.0, 20)})
    # Two cold failures at two sites, nothing warm: a big ratio, but only two failures.
    add_batch(fleet, "X", {-10: (200.0, 2), 5: (10000.0, 0)}, sites=("s1", "s2"))
    x = run(fleet, DetectionConfig())["X"]
    assert x.failures_below == 2 and x.sites_with_failures_below == 2
    assert x.rate_ratio_ci[0] > 1.5
    assert not x.flagged and not x.evidence_met
    assert run(fleet, DetectionConfig(min_failures_beyond=2))["X"].evidence_met


def test_low_confidence_bound_blocks_the_flag():
    # Twice the expected cold failures, but with 8 vs 4 the interval reaches below 1.5.
    x = run(graded_fleet({-12: 4, -10: 4}), PLAIN)["X"]
    assert x.failures_below == 8 and x.sites_with_failures_below >= 2
    assert x.rate_ratio_ci[0] <= 1.5
    assert not x.evidence_met and not x.flagged
    assert run(graded_fleet({-12: 4, -10: 4}), replace(PLAIN, min_rate_ratio_lower=0.0))[
        "X"
    ].evidence_met


# ---- rate ratio, BH, logistic ----------------------------------------------------------


def test_rate_ratio_and_exact_interval_by_hand():
    # 9 failures beyond, 3 elsewhere; expected 2 beyond and 6 elsewhere.
    rr, lo, hi = rate_ratio_ci(9, 3, 2.0, 6.0, 0.95)
    assert rr == pytest.approx((9 / 2) / (3 / 6))
    # Clopper-Pearson via the beta distribution, mapped from odds to the rate ratio.
    p_lo = stats.beta.ppf(0.025, 9, 4)
    p_hi = stats.beta.ppf(0.975, 10, 3)
    assert lo == pytest.approx((p_lo / (1 - p_lo)) / (2 / 6), rel=1e-6)
    assert hi == pytest.approx((p_hi / (1 - p_hi)) / (2 / 6), rel=1e-6)
    assert lo < rr < hi
    ci = stats.binomtest(9, 12).proportion_ci(confidence_level=0.95, method="exact")
    assert lo == pytest.approx((ci.low / (1 - ci.low)) / (2 / 6), rel=1e-6)
    assert rate_ratio_ci(3, 0, 1.0, 1.0, 0.95)[2] == float("inf")  # nothing on the other side


def test_benjamini_hochberg_by_hand():
    q = bh_qvalues([0.01, 0.04, 0.03])
    # Sorted 0.01, 0.03, 0.04 -> 0.03, min(0.045, 0.04), 0.04.
    assert q == pytest.approx([0.03, 0.04, 0.04])


def test_logistic_matches_statsmodels_on_ungrouped_rows():
    x = np.array([-20.0, -10.0, 0.0, 10.0])
    units = np.array([10, 10, 10, 10])
    failed = np.array([5, 3, 1, 1])
    fit = fit_logistic(x, units, failed, (-20.0, 10.0))
    rows_x = np.repeat(x, units)
    rows_y = np.concatenate([[1] * f + [0] * (u - f) for f, u in zip(failed, units, strict=True)])
    ref = sm.GLM(rows_y, sm.add_constant(rows_x), family=sm.families.Binomial()).fit()
    assert fit.slope_per_c is not None and fit.slope_per_c < 0  # colder -> more failures
    assert fit.intercept == pytest.approx(ref.params[0], rel=1e-6)
    assert fit.slope_per_c == pytest.approx(ref.params[1], rel=1e-6)
    assert fit.intercept_se == pytest.approx(ref.bse[0], rel=1e-5)
    assert fit.slope_se == pytest.approx(ref.bse[1], rel=1e-5)
    assert fit.probability_at[-20.0] > fit.probability_at[10.0]
    assert (fit.n_units, fit.n_failed) == (40, 10)


def test_logistic_through_detect():
    logistic = [
        LogisticCell("X", -15.0, 400, 20),
        LogisticCell("X", -5.0, 400, 4),
        LogisticCell("X", 3.0, 300, 2),
    ]
    x = run(graded_fleet({-12: 12, -10: 12, -8: 12}), PLAIN, logistic)["X"].to_json()
    lg = x["logistic"]
    assert lg["n_units"] == 1100 and lg["n_failed"] == 26
    assert lg["slope_per_c"] < 0
    assert set(lg["probability_at"]) == {"-20", "-10", "0", "10"}


# ---- heat ------------------------------------------------------------------------------

HOT_GRID = (20, 22, 24, 26, 28, 30, 32, 34, 36, 38)


def test_heat_direction_is_symmetric():
    fleet = new_fleet()
    for i in range(6):
        add_batch(fleet, f"N{i}", {b: (1000.0, 2) for b in HOT_GRID})
    add_batch(fleet, "H", {b: (1000.0, 12 if b >= 34 else 2) for b in HOT_GRID})
    heat = DetectionConfig(variable="temp_max_c", direction="above")
    h = run(fleet, heat)["H"]
    assert h.flagged and h.direction == "above" and h.variable == "temp_max_c"
    # "above t" = bin >= t, so only t in (32, 34] splits after bin 32.
    assert h.threshold_c is not None and 33.0 <= h.threshold_c <= 34.0
    assert h.failures_below == 36  # "below" reads "beyond" for heat
    assert not run(fleet, DetectionConfig())["H"].flagged  # not a cold signal


# ---- CUSUM -----------------------------------------------------------------------------


def test_cusum_alarms_on_a_step_change_and_not_on_a_null_series():
    expected = np.ones((2, 20))
    observed = np.ones((2, 20))
    observed[1, 10:] = 4.0  # rate x4 from week 10 on
    path = poisson_cusum(observed, expected, rate_ratio=3.0)
    alarm = path.first_alarm(4.0)
    assert alarm[0] == -1 and path.maximum()[0] == 0.0
    # Each step week adds 4 ln 3 - 2 = 2.39 nats: S reaches 4.79 in the second week.
    assert alarm[1] == 11
    assert path.statistic[1, 10] == pytest.approx(4 * np.log(3) - 2)


def test_batch_level_by_hand():
    # (o_other + w * o_all / e_all) / (e_other + w), never below 1.
    level = batch_level(
        np.array([100.0, 1.0, 0.0, 0.0, 3.0]),  # failures not beyond
        np.array([100.0, 1.0, 0.0, 10.0, 1.0]),  # expected not beyond
        np.array([300.0, 12.0, 8.0, 2.0, 3.0]),  # all failures
        np.array([150.0, 3.0, 2.0, 12.0, 2.0]),  # all expected
        1.0,
    )
    # A thick side speaks for itself: (100 + 2) / 101.
    assert level[0] == pytest.approx(102 / 101)
    # A thin one leans on the all-weather level 4: (1 + 4) / (1 + 1).
    assert level[1] == pytest.approx(2.5)
    # No exposure on that side: the all-weather level itself.
    assert level[2] == pytest.approx(4.0)
    # A quiet side never lowers the level below the fleet's.
    assert level[3] == 1.0
    assert level[4] == pytest.approx((3 + 1.5) / 2)
    # Without the prior: the plain ratio (3 / 1), floored at 1 (0 / 10).
    plain = batch_level(np.array([3.0, 0.0]), np.array([1.0, 10.0]), np.ones(2), np.ones(2), 0.0)
    assert list(plain) == [3.0, 1.0]
    with pytest.raises(ValueError):
        batch_level(np.ones(1), np.ones(1), np.ones(1), np.ones(1), -1.0)


def test_cusum_expectation_uses_the_shrunk_level_by_hand():
    # Reference: 0.004 at -10 C and 0.002 at 5 C. The batch: 12 failures beyond (expected 4)
    # and 4 not beyond (expected 4), so its level is (4 + 1 * 16 / 8) / (4 + 1) = 1.2 and
    # its one-week CUSUM is 12 ln 3 - (3 - 1) * 4 * 1.2. (An upper confidence bound of the
    # level, Gamma(5, 4) at 0.9 = 2.0, would give 12 ln 3 - 16 < 0: no evidence at all.)
    fleet = normal_fleet()
    add_batch(fleet, "COLD", {-10: (1000.0, 12), 5: (2000.0, 4)})
    r = run(fleet, PLAIN)["COLD"]
    assert (r.expected_below, r.expected_above) == (pytest.approx(4.0), pytest.approx(4.0))
    assert r.cusum.statistic == pytest.approx(12 * np.log(3) - 2 * 4 * 1.2)


def test_thin_quiet_warm_side_does_not_hide_an_all_weather_level():
    # 4x in all weather (32 failures where 8 are expected in the cold), but only 0.2 expected
    # failures in the warm, and none seen. The plain warm-side ratio (0, floored to 1) would
    # expect 8 in the cold and alarm; the shrunk level (0 + 32 / 8.2) / (0.2 + 1) = 3.25 does not.
    fleet = normal_fleet()
    add_batch(fleet, "DECOY", {-10: (2000.0, 32), 5: (100.0, 0)})
    r = run(fleet, PLAIN)["DECOY"]
    assert r.cusum.max_statistic == 0.0 and not r.cusum.alarm
    plain = run(fleet, replace(PLAIN, cusum_level_prior_weight=0.0))["DECOY"]
    assert plain.cusum.statistic == pytest.approx(32 * np.log(3) - 2 * 8.0)
    assert plain.cusum.alarm


# ---- result set and JSON ---------------------------------------------------------------


def test_results_cover_every_batch_with_a_failure_and_json_keys_are_exact():
    fleet = normal_fleet(3)
    add_batch(fleet, "ONE", {-10: (500.0, 1), 5: (500.0, 0)})
    add_batch(fleet, "NONE", {-10: (500.0, 0), 5: (500.0, 0)}, units=250)
    fleet[2]["ONLY_UNITS"] = 10
    results = detect(fleet[0], fleet[1], [], fleet[2], DetectionConfig())
    assert [r.batch_key for r in results] == ["N0", "N1", "N2", "ONE"]
    required = {
        "batch_key", "flagged", "variable", "direction", "threshold_c", "failures_below",
        "failures_above", "unit_days_below", "unit_days_above", "expected_below", "rate_ratio",
        "rate_ratio_ci", "p_value", "q_value", "cusum", "sites_with_failures_below",
        "failed_fraction", "logistic",
    }  # fmt: skip
    assert set(REQUIRED_JSON_KEYS) == required
    for r in results:
        doc = r.to_json()
        assert set(doc) == required | set(EXTRA_JSON_KEYS)
        assert {
            "intercept",
            "slope_per_c",
            "intercept_se",
            "slope_se",
            "n_units",
            "n_failed",
        } <= set(doc["logistic"])
        assert {"statistic", "threshold_h", "alarm", "alarm_week"} <= set(doc["cusum"])
        json.dumps(doc, allow_nan=False)  # strict JSON: no NaN or Infinity
    one = results[-1]
    assert one.failed_fraction == pytest.approx(1 / 1000)


def test_detect_is_deterministic_for_a_fixed_seed():
    fleet = graded_fleet({-12: 5, -10: 4})
    a = [r.to_json() for r in detect(fleet[0], fleet[1], [], fleet[2], DetectionConfig())]
    b = [r.to_json() for r in detect(fleet[0], fleet[1], [], fleet[2], DetectionConfig())]
    assert a == b
    assert any(r["scan_method"].startswith("monte_carlo") for r in a)


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        DetectionConfig(direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DetectionConfig(cusum_rate_ratio=1.0)
    with pytest.raises(ValueError):
        DetectionConfig(cusum_level_prior_weight=-0.5)


# ---- station-to-batch product of the exposure aggregation ----------------------------


def test_weekly_unit_days_by_hand():
    # Station 1: batch 7 gains 3 units in week 0 and loses 1 in week 1; batch 8 gains 2 in
    # week 1. Station 2: batch 7 gains 5 in week 0. Entries count from the next week on.
    product = weekly_unit_days(
        n_weeks=3,
        delta_station=np.array([1, 1, 1, 2]),
        delta_batch=np.array([7, 7, 8, 7]),
        delta_week=np.array([0, 1, 1, 0]),
        delta=np.array([3.0, -1.0, 2.0, 5.0]),
        # station 1: 7 days at -5 every week; station 2: week 1 has 4 days at -5, 3 at 2
        days_station=np.array([1, 1, 1, 2, 2, 2, 2]),
        days_week=np.array([0, 1, 2, 0, 1, 1, 2]),
        days_bin=np.array([-5, -5, -5, 2, -5, 2, 2]),
        days=np.array([7.0, 7.0, 7.0, 7.0, 4.0, 3.0, 7.0]),
    )
    assert product.batch_ids.tolist() == [7, 8]
    assert product.bins_c.tolist() == [-5, 2]
    b7, b8 = product.unit_days
    assert b7[0].tolist() == [0.0, 0.0]  # nobody at risk when week 0 starts
    assert b7[1].tolist() == [3 * 7 + 5 * 4, 5 * 3]
    assert b7[2].tolist() == [2 * 7, 5 * 7]
    assert b8.tolist() == [[0.0, 0.0], [0.0, 0.0], [2 * 7, 0.0]]
