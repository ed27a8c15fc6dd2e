"""The demo generator's ground truth per temperature bin, to check what detection reports."""

from __future__ import annotations

from typing import Any

from api.demo.scenario import DemoSummary


def true_rate_per_1000(truth: DemoSummary, batch_key: str, bin_c: int) -> float:
    """The generator's daily hazard x 1,000 for a batch in a whole-degree bin of temp_min_c.

    Every temperature of bin b lies in [b, b + 1), so "below t" for a whole-degree t holds
    for the whole bin when b < t; the generator's thresholds (0 and -8 C) are whole degrees.
    """
    rate = truth.base_daily_hazard
    if bin_c < truth.fleet_cold_below_c:
        rate *= truth.fleet_cold_multiplier
    if batch_key == truth.cold_batch and bin_c < truth.cold_threshold_c:
        rate *= truth.cold_multiplier
    if batch_key == truth.decoy_batch:
        rate *= truth.decoy_multiplier
    return rate * 1000.0


def rate_coverage(result: dict[str, Any], truth: DemoSummary, min_unit_days: float = 200.0):
    """(bins with at least ``min_unit_days``, of which the true rate lies in the interval)."""
    bins = [b for b in result["rates"]["bins"] if b["unit_days"] >= min_unit_days]
    inside = [
        b
        for b in bins
        if b["rate_ci"][0]
        <= true_rate_per_1000(truth, result["batch_key"], b["bin_c"])
        <= b["rate_ci"][1]
    ]
    return len(bins), len(inside)
