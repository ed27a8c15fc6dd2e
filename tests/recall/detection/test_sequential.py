"""The daily sequential test on tiny hand-checkable cases (pure: no database, no app)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from scipy import stats

from recall.detection.config import DetectionConfig
from recall.detection.inputs import DetectionInput, ExposureCell, FailureSite, build_input
from recall.detection.scan import binomial_llr
from recall.detection.sequential import first_day, level_mixture_llr, sequential_paths
from recall.detection.statistics import detect

START = date(2025, 12, 1)
# One threshold, no bin merging, no shrinkage, the conditional binomial statistic (no prior
# on the level): every number below is a hand computation.
ONE_SPLIT = DetectionConfig(
    candidate_thresholds_c=(0.0,),
    reference_min_group_failures=0,
    reference_prior_failures=0,
    monte_carlo_draws=None,
    level_prior_failures=0,
)


def two_day_fleet() -> DetectionInput:
    """R fails 4 per 1000 unit-days at -10 C and 2 per 1000 at 5 C, both days. X has 50
    cold and 950 warm unit-days a day; one warm failure on day 0, three cold ones at three
    sites on day 1."""
    cells, sites = [], []
    for day in (0, 1):
        cells += [
            ExposureCell("R", day, -10, 1000.0, 4),
            ExposureCell("R", day, 5, 1000.0, 2),
            ExposureCell("X", day, -10, 50.0, 3 if day == 1 else 0),
            ExposureCell("X", day, 5, 950.0, 1 if day == 0 else 0),
        ]
        sites += [FailureSite("R", f"r{day}{i}", -10, day) for i in range(4)]
        sites += [FailureSite("R", f"r{day}{i}", 5, day) for i in range(2)]
    sites.append(FailureSite("X", "a", 5, 0))
    sites += [FailureSite("X", s, -10, 1) for s in ("a", "b", "c")]
    return build_input(cells, sites, {"R": 2000, "X": 1000}, START)


def test_statistic_and_evidence_day_by_day_by_hand():
    paths = sequential_paths(two_day_fleet(), ONE_SPLIT)
    x = 1  # batches are sorted by key: R, X
    # Day 0: expected 50 x 0.004 = 0.2 beyond and 950 x 0.002 = 1.9 elsewhere, the one
    # failure is warm: no excess, statistic 0.
    pi = 0.2 / 2.1
    assert paths.expected_beyond[x, 0] == pytest.approx(0.2)
    assert paths.expected_total[x, 0] == pytest.approx(2.1)
    assert paths.statistic[x, 0] == 0.0 and not paths.evidence[x, 0]
    # Day 1: running totals 0.4 and 4.2 expected (pi unchanged), 3 of 4 failures beyond:
    # 3 ln(3 / 4 pi) + 1 ln(1 / 4 (1 - pi)).
    assert paths.failures_beyond[x, 1] == 3 and paths.failures_total[x, 1] == 4
    assert paths.statistic[x, 1] == pytest.approx(
        3 * np.log(3 / (4 * pi)) + np.log(1 / (4 * (1 - pi)))
    )
    assert paths.statistic[x, 1] == pytest.approx(4.9049, abs=1e-4)
    assert paths.sites_beyond[x, 1] == 3
    # The exact lower bound: Clopper-Pearson for 3 of 4, from odds to the rate ratio.
    p_lo = stats.beta.ppf(0.025, 3, 2)
    assert paths.rate_ratio_lower[x, 1] == pytest.approx((p_lo / (1 - p_lo)) / (0.4 / 3.8))
    assert paths.rate_ratio_lower[x, 1] > 1.5
    assert paths.evidence[x, 1]
    assert paths.threshold_at(x, 1) == 0.0


@pytest.mark.parametrize(
    ("critical_value", "alarm_on"), [(4.9, START + timedelta(days=1)), (5.0, None)]
)
def test_alarm_date_is_the_first_day_with_evidence_and_the_critical_value(
    critical_value: float, alarm_on: date | None
) -> None:
    # Calibrated for two batches: the critical value applies as it is.
    config = replace(ONE_SPLIT, critical_value=critical_value, critical_value_batches=2)
    x = {r.batch_key: r for r in detect(two_day_fleet(), config)}["X"]
    assert x.sequential.evidence_first_held_on == START + timedelta(days=1)
    assert x.sequential.alarm_on == alarm_on
    assert x.flagged is (alarm_on is not None)
    assert x.sequential.critical_value == critical_value
    path = x.to_json()["sequential"]["path"]
    assert path["statistic"] == [0.0, pytest.approx(4.905, abs=1e-3)]
    assert path["evidence_met"] == [False, True]
    assert path["first_day"] == "2025-12-01"


def test_a_site_counts_once_and_from_its_first_failure_beyond():
    cells = [ExposureCell("R", d, b, 1000.0, 2) for d in range(3) for b in (-10, 5)]
    cells += [ExposureCell("X", d, b, 1000.0, 0) for d in range(3) for b in (-10, 5)]
    sites = [
        FailureSite("R", f"r{d}{b}{i}", b, d) for d in range(3) for b in (-10, 5) for i in (0, 1)
    ]
    # X: site a fails warm on day 0 (not beyond), cold on day 1 (twice), b cold on day 2.
    sites += [
        FailureSite("X", "a", 5, 0),
        FailureSite("X", "a", -10, 1),
        FailureSite("X", "a", -10, 1),
        FailureSite("X", "b", -10, 2),
    ]
    paths = sequential_paths(build_input(cells, sites, {"R": 10, "X": 10}), ONE_SPLIT)
    assert paths.sites_beyond[1].tolist() == [0, 1, 2]


def test_level_prior_statistic_by_hand_and_at_its_limits():
    # 3 of 4 failures beyond; 0.4 expected beyond and 3.8 elsewhere; a prior worth 2 failures.
    # rho = 3 (2 + 3.8) / (0.4 (1 + 2)) = 14.5, and the LLR is
    # 3 ln 14.5 - (4 + 2) ln((2 + 14.5 x 0.4 + 3.8) / (2 + 0.4 + 3.8)).
    o, n, eb, et = (np.array(x) for x in (3.0, 4.0, 0.4, 4.2))
    assert level_mixture_llr(o, n, eb, et, 2.0) == pytest.approx(
        3 * np.log(14.5) - 6 * np.log(11.6 / 6.2)
    )
    # No prior weight: the conditional binomial test; a heavy one: Poisson at level 1.
    assert level_mixture_llr(o, n, eb, et, 1e-9) == pytest.approx(
        binomial_llr(o, n, eb / et), rel=1e-6
    )
    assert level_mixture_llr(o, n, eb, et, 1e9) == pytest.approx(
        3 * np.log(3 / 0.4) - (3 - 0.4), rel=1e-5
    )
    # A batch failing 4x everywhere (8 beyond where 2 are expected, 32 where 8 are): the
    # prior pulls its level toward 1 a little, so rho > 1, but far less than 4.
    decoy = level_mixture_llr(*(np.array(x) for x in (8.0, 40.0, 2.0, 10.0)), 2.0)
    assert 0.0 < decoy < 0.5
    assert level_mixture_llr(np.array(0.0), np.array(5.0), eb, et, 2.0) == 0.0


def test_first_day_helper():
    mask = np.array([[False, True, True], [False, False, False], [True, False, True]])
    assert first_day(mask).tolist() == [1, -1, 0]


def test_the_path_is_what_a_run_on_each_day_would_have_concluded():
    # A random small fleet with a cold-sensitive batch: cutting the data at day d and running
    # detection again gives the path's statistic, threshold and evidence of day d.
    rng = np.random.default_rng(5)
    n_b, n_d, bins = 6, 40, np.arange(-15, 10)
    temp = np.clip(np.round(5 - 0.4 * np.arange(n_d) + rng.normal(0, 3, n_d)), -15, 9)
    k = np.searchsorted(bins, temp).astype(int)
    unit_days = np.zeros((n_b, n_d, bins.size))
    unit_days[:, np.arange(n_d), k] = 1000.0
    rate = np.where(temp < 0, 0.004, 0.002)[None, :] * np.ones((n_b, 1))
    rate[5] *= np.where(temp < -6, 8.0, 1.0)
    fails = rng.poisson(1000.0 * rate)
    failures = np.zeros_like(unit_days)
    failures[:, np.arange(n_d), k] = fails
    b_idx, d_idx = np.nonzero(fails)
    reps = fails[b_idx, d_idx]
    site_batch, site_day = np.repeat(b_idx, reps), np.repeat(d_idx, reps)
    full = DetectionInput(
        batch_keys=tuple(f"B{i}" for i in range(n_b)),
        bins_c=bins.astype(np.int64),
        unit_days=unit_days,
        failures=failures,
        units=np.full(n_b, 1000.0),
        site_batch=site_batch.astype(np.int64),
        site_code=rng.integers(0, 30, site_batch.size).astype(np.int64),
        site_bin=bins[k[site_day]].astype(np.int64),
        site_day=site_day.astype(np.int64),
        first_day=START,
    )
    config = DetectionConfig(monte_carlo_draws=None)
    paths = sequential_paths(full, config)
    assert paths.evidence[5].any()  # the case is not trivial
    for d in (5, 17, 25, n_d - 1):
        keep = full.site_day <= d
        cut = replace(
            full,
            unit_days=full.unit_days[:, : d + 1],
            failures=full.failures[:, : d + 1],
            site_batch=full.site_batch[keep],
            site_code=full.site_code[keep],
            site_bin=full.site_bin[keep],
            site_day=full.site_day[keep],
        )
        then = sequential_paths(cut, config)
        assert then.statistic[:, -1] == pytest.approx(paths.statistic[:, d])
        assert (then.evidence[:, -1] == paths.evidence[:, d]).all()
        assert (then.threshold_index[:, -1] == paths.threshold_index[:, d]).all()


def test_a_batch_flagged_the_other_way_leaves_the_reference():
    # A heat test in the shadow of a cold-sensitive batch C (40 failures in the cold where 2
    # are expected): with C in the others' reference, the cold looks dangerous for everyone,
    # so D, which merely fails 4x in all weather, seems to fail more in the warm.
    fleet: list[ExposureCell] = []
    sites: list[FailureSite] = []
    per_batch = {f"N{i}": (2, 2) for i in range(4)} | {"C": (40, 2), "D": (8, 8)}
    for key, (cold, warm) in per_batch.items():
        fleet += [ExposureCell(key, 0, -10, 1000.0, cold), ExposureCell(key, 0, 5, 1000.0, warm)]
        sites += [FailureSite(key, f"{key}{i}", -10, 0) for i in range(cold)]
        sites += [FailureSite(key, f"{key}w{i}", 5, 0) for i in range(warm)]
    inp = build_input(fleet, sites, dict.fromkeys(per_batch, 1000), START)
    heat = replace(
        ONE_SPLIT,
        variable="temp_max_c",
        direction="above",
        critical_value=4.0,
        critical_value_batches=6,
    )
    d = inp.batch_keys.index("D")
    # Without exclusions: pi = 0.002 / (0.0096 + 0.002) and 8 of 16 failures in the warm.
    plain = sequential_paths(inp, heat)
    pi = 0.002 / (0.0096 + 0.002)
    assert plain.statistic[d, 0] == pytest.approx(8 * np.log(0.5 / pi) + 8 * np.log(0.5 / (1 - pi)))
    assert plain.evidence[d, 0] and plain.statistic[d, 0] >= 4.0
    # C alarms in the cold (the opposite direction) and leaves the reference: D's warm
    # share is then what the ordinary batches show, one half, and nothing is left to flag.
    flagged = {r.batch_key for r in detect(inp, heat) if r.flagged}
    assert flagged == set()
    assert sequential_paths(inp, heat, 4.0).statistic[d, 0] == 0.0
