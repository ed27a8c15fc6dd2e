"""Hand-checkable cases for the pure detection statistics (no database): the reference, the
evidence rules, the null cases, the result and its JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from scipy import stats

from recall.detection.config import DetectionConfig
from recall.detection.evidence import EXTRA_JSON_KEYS, REQUIRED_JSON_KEYS, BatchResult
from recall.detection.exposure_product import daily_unit_days
from recall.detection.inputs import ExposureCell, FailureSite, build_input
from recall.detection.scan import binomial_llr, rate_ratio_ci, reference_rates
from recall.detection.statistics import bh_qvalues, detect

# Exact arithmetic for hand checks: no bin merging, no shrinkage, Bonferroni scan correction,
# the conditional binomial statistic.
PLAIN = DetectionConfig(
    reference_min_group_failures=0,
    reference_prior_failures=0,
    monte_carlo_draws=None,
    level_prior_failures=0,
)
START = date(2025, 12, 1)

Fleet = tuple[list[ExposureCell], list[FailureSite], dict[str, int]]


def add_batch(
    fleet: Fleet,
    key: str,
    per_bin: dict[int, tuple[float, int]],
    sites: tuple[str, ...] = ("s1", "s2", "s3"),
    units: int = 1000,
    day: int = 0,
) -> None:
    """Add a batch on one day: {bin_c: (unit_days, failures)}; failures go round-robin over
    ``sites``."""
    cells, failure_sites, units_per_batch = fleet
    i = 0
    for bin_c, (unit_days, failures) in per_bin.items():
        cells.append(ExposureCell(key, day, bin_c, unit_days, failures))
        for _ in range(failures):
            failure_sites.append(FailureSite(key, sites[i % len(sites)], bin_c, day))
            i += 1
    units_per_batch[key] = units


def new_fleet() -> Fleet:
    return [], [], {}


def run(fleet: Fleet, config: DetectionConfig = PLAIN) -> dict[str, BatchResult]:
    cells, sites, units = fleet
    return {r.batch_key: r for r in detect(build_input(cells, sites, units, START), config)}


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


def test_binomial_llr_by_hand():
    # 3 of 4 beyond where 1 in 10 is expected: 3 ln(3 / 0.4) + 1 ln(1 / 3.6).
    assert binomial_llr(np.array(3.0), np.array(4.0), np.array(0.1)) == pytest.approx(
        3 * np.log(7.5) + np.log(1 / 3.6)
    )
    # All beyond: N ln(1 / pi); no excess: 0.
    assert binomial_llr(np.array(3.0), np.array(3.0), np.array(0.25)) == pytest.approx(
        3 * np.log(4)
    )
    assert binomial_llr(np.array(1.0), np.array(10.0), np.array(0.2)) == 0.0


# ---- null cases ----------------------------------------------------------------------


def test_fleet_wide_cold_effect_alone_does_not_flag():
    for config in (PLAIN, DetectionConfig()):
        res = run(normal_fleet(), config)
        assert len(res) == 6
        for r in res.values():
            assert not r.flagged and not r.evidence_met
            # Within the batch cold is 2x warm, but so it is for everyone else (the default
            # config shrinks each bin's rate a little toward the mean, hence the tolerance).
            assert r.rate_ratio == pytest.approx(1.0, rel=0.05)
            assert r.p_value > 0.5
            assert r.rates is None  # no full evidence for a batch whose rules never held


def test_four_times_all_weather_batch_does_not_flag():
    fleet = normal_fleet()
    add_batch(fleet, "DECOY", {-10: (2000.0, 32), 5: (4000.0, 32)})
    decoy = run(fleet, PLAIN)["DECOY"]
    assert decoy.expected_below == pytest.approx(8.0)
    assert decoy.failures_below == 32
    assert decoy.rate_ratio == pytest.approx(1.0)
    assert decoy.sequential.max_statistic == 0.0
    assert not decoy.flagged
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


def test_clear_cold_batch_at_several_sites_flags_with_the_right_threshold_and_dates():
    res = run(graded_fleet({-12: 12, -10: 12, -8: 12}), DetectionConfig())
    x = res["X"]
    assert x.flagged and x.evidence_met
    # Bins are whole degrees: "below t" = bin < t, so -7 and -6 both split after bin -8.
    assert x.threshold_c is not None and -7.0 <= x.threshold_c <= -6.0
    assert x.failures_below == 36 and x.failures_above == 14
    assert x.sites_with_failures_below == 3
    assert x.q_value <= 0.05
    # Everything happened on the one day of data: the evidence and the alarm date from it.
    assert x.sequential.alarm_on == x.sequential.evidence_first_held_on == START
    assert x.sequential.statistic >= x.sequential.critical_value
    doc = x.to_json()
    assert doc["alarm_on"] == doc["evidence_first_held_on"] == "2025-12-01"
    assert doc["reasons"][0].startswith("flagged on 2025-12-01")
    assert x.rates is not None and x.rates.model.fitted
    assert not any(r.flagged for k, r in res.items() if k != "X")


def test_one_site_only_blocks_the_flag():
    fleet = graded_fleet({-12: 12, -10: 12, -8: 12}, cold_sites=("s1",))
    x = run(fleet, DetectionConfig())["X"]
    assert x.sites_with_failures_below == 1
    assert not x.flagged and not x.evidence_met
    assert any(r.startswith("not met now") and "sites" in r for r in x.reasons)
    assert run(fleet, DetectionConfig(min_sites_beyond=1))["X"].flagged


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
    relaxed = run(graded_fleet({-12: 4, -10: 4}), replace(PLAIN, min_rate_ratio_lower=0.0))
    assert relaxed["X"].evidence_met


# ---- rate ratio, BH ----------------------------------------------------------------------


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


# ---- heat --------------------------------------------------------------------------------

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
    assert h.rates is not None and h.rates.model.per_degree_ratio is not None
    assert h.rates.model.per_degree_ratio > 1  # per degree warmer, for heat
    assert not run(fleet, DetectionConfig())["H"].flagged  # not a cold signal


# ---- result set and JSON ---------------------------------------------------------------


def test_results_cover_every_batch_with_a_failure_and_json_keys_are_exact():
    fleet = normal_fleet(3)
    add_batch(fleet, "ONE", {-10: (500.0, 1), 5: (500.0, 0)})
    add_batch(fleet, "NONE", {-10: (500.0, 0), 5: (500.0, 0)}, units=250)
    fleet[2]["ONLY_UNITS"] = 10
    add_batch(fleet, "X", {-12: (300.0, 9), -10: (300.0, 3), 5: (3000.0, 1)}, units=500)
    results = detect(build_input(*fleet, START), DetectionConfig())
    assert [r.batch_key for r in results] == ["N0", "N1", "N2", "ONE", "X"]
    required = {
        "batch_key", "flagged", "variable", "direction", "threshold_c",
        "evidence_first_held_on", "alarm_on", "failures_below", "failures_above",
        "unit_days_below", "unit_days_above", "expected_below", "rate_ratio", "rate_ratio_ci",
        "p_value", "q_value", "sequential", "sites_with_failures_below", "failed_fraction",
        "rates",
    }  # fmt: skip
    assert set(REQUIRED_JSON_KEYS) == required
    for r in results:
        doc = r.to_json()
        assert set(doc) == required | set(EXTRA_JSON_KEYS)
        assert {"statistic", "critical_value", "alarm", "alarm_on", "path"} <= set(
            doc["sequential"]
        )
        assert "week" not in json.dumps(doc)  # dates, never week indexes
        json.dumps(doc, allow_nan=False)  # strict JSON: no NaN or Infinity
    assert results[3].failed_fraction == pytest.approx(1 / 1000)
    x = results[-1].to_json()
    assert x["flagged"] and x["rates"]["bins"] and x["rates"]["model"]["curve"]
    assert x["sequential"]["path"]["first_day"] == "2025-12-01"
    assert "survival" in x["rates"]["method"]


def test_detect_is_deterministic_for_a_fixed_seed():
    fleet = graded_fleet({-12: 5, -10: 4})
    a = [r.to_json() for r in detect(build_input(*fleet, START), DetectionConfig())]
    b = [r.to_json() for r in detect(build_input(*fleet, START), DetectionConfig())]
    assert a == b
    assert any(r["scan_method"].startswith("monte_carlo") for r in a)


def test_config_rejects_nonsense_and_scales_the_critical_value():
    with pytest.raises(ValueError):
        DetectionConfig(direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DetectionConfig(critical_value=0.0)
    with pytest.raises(ValueError):
        DetectionConfig(probability_days=0)
    with pytest.raises(ValueError):
        DetectionConfig(level_prior_failures=-1.0)
    c = DetectionConfig(critical_value=9.0, critical_value_batches=40)
    assert c.effective_critical_value(40) == 9.0
    assert c.effective_critical_value(100) == pytest.approx(9.0 + np.log(2.5))
    assert c.effective_critical_value(10) == 9.0  # never below the calibrated value


# ---- station-to-batch product of the exposure aggregation ----------------------------


def test_daily_unit_days_by_hand():
    # Station 1: batch 7 gains 3 units on day 0 and loses 1 on day 1; batch 8 gains 2 on day
    # 2. Station 2: batch 7 gains 5 on day 1. Station 2 has no observation on day 2.
    product = daily_unit_days(
        n_days=3,
        event_station=np.array([1, 1, 1, 2]),
        event_batch=np.array([7, 7, 8, 7]),
        event_day=np.array([0, 1, 2, 1]),
        event_delta=np.array([3.0, -1.0, 2.0, 5.0]),
        obs_station=np.array([1, 1, 1, 2, 2]),
        obs_day=np.array([0, 1, 2, 0, 1]),
        obs_bin=np.array([-5, -5, 2, 2, 2]),
    )
    assert product.batch_ids.tolist() == [7, 8]
    assert product.bins_c.tolist() == [-5, 2]
    b7, b8 = product.unit_days
    assert b7.tolist() == [[3.0, 0.0], [2.0, 5.0], [0.0, 2.0]]
    assert b8.tolist() == [[0.0, 0.0], [0.0, 0.0], [0.0, 2.0]]
