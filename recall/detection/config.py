"""Every evidence rule and tuning knob of detection, with the calibrated critical value. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

# Calibrated by ``benchmarks/detection_sim.py --calibrate-seeds 0,1`` for 40 batches and a
# season of daily looks (see DetectionConfig.critical_value); CALIBRATION_NOTE below.
CALIBRATED_CRITICAL_VALUE = 9.5
CALIBRATION_BATCHES = 40
# The weight, in failures, of a gamma prior (mean 1) on a batch's all-weather level: 0, the
# conditional test. A prior adds power where a batch's exposure is mostly beyond its
# threshold (the demo's cold climate), but makes a batch that fails far more than the
# fleet early in a season look cold-sensitive: in the 8-batch demo fleet of the tests, a
# prior worth a quarter of a failure already raised the decoy's statistic from 7.6 to 10.4.
LEVEL_PRIOR_FAILURES = 0.0


@dataclass(frozen=True)
class DetectionConfig:
    """Every evidence rule and tuning knob; defaults as in issues 3 and 13."""

    variable: str = "temp_min_c"
    direction: Literal["below", "above"] = "below"
    # None: every whole degree with >= min_exposure_share of fleet unit-days on each side
    # (on each day, of the unit-days up to that day).
    candidate_thresholds_c: tuple[float, ...] | None = None
    min_exposure_share: float = 0.01
    min_failures_beyond: int = 3
    min_sites_beyond: int = 2
    min_rate_ratio_lower: float = 1.5
    fdr_alpha: float = 0.05
    confidence: float = 0.95
    # The scan p-value reported on the last day. None: Bonferroni over the distinct splits;
    # otherwise the Monte Carlo max statistic with this many draws.
    monte_carlo_draws: int | None = 2000
    seed: int = 0
    # Reference: merge sparse bins until each group has this many fleet failures, and shrink
    # each group's rate toward the others' overall rate by this many pseudo-failures. Groups
    # of 30 keep a fleet with few failures (the demo's 121) from chasing noise in its cold
    # bins; in the simulation they cost nothing against groups of 15.
    reference_min_group_failures: float = 30.0
    reference_prior_failures: float = 0.5
    # The sequential test's statistic may integrate the batch's all-weather level over a
    # gamma prior of mean 1 worth this many failures (0: the conditional binomial test,
    # which needs no assumption on the level; see sequential.level_mixture_llr).
    level_prior_failures: float = LEVEL_PRIOR_FAILURES
    # A batch is flagged on the first day on which the evidence rules hold and the statistic
    # (nats) reaches the critical value. The value was calibrated for a fleet of
    # ``critical_value_batches`` batches under daily looks; for B more batches it becomes
    # cv + ln(B / critical_value_batches): the tail of a maximised LLR falls like e^-cv, so
    # this keeps the fleet-wide false-alarm rate level (simulated at 100 batches). It is
    # never lowered for fewer batches: their references are noisier, and lowering it by
    # ln(10 / 40) doubled the false-alarm rate of 10-batch fleets in the simulation.
    critical_value: float = CALIBRATED_CRITICAL_VALUE
    critical_value_batches: int = CALIBRATION_BATCHES
    # Temperatures (C) at which the rate model reports 30-day failure probabilities and rate
    # ratios; None: every whole degree over the observed range.
    probability_at_c: tuple[float, ...] | None = None
    probability_days: int = 30

    def __post_init__(self) -> None:
        if self.direction not in ("below", "above"):
            raise ValueError(f"direction must be 'below' or 'above', not {self.direction!r}")
        if not 0 < self.confidence < 1 or not 0 < self.fdr_alpha < 1:
            raise ValueError("confidence and fdr_alpha must lie strictly between 0 and 1")
        if self.critical_value <= 0 or self.critical_value_batches < 1:
            raise ValueError("the critical value and its number of batches must be positive")
        if self.monte_carlo_draws is not None and self.monte_carlo_draws < 1:
            raise ValueError("monte_carlo_draws must be None or positive")
        if self.level_prior_failures < 0:
            raise ValueError("level_prior_failures must be >= 0")
        if self.probability_days < 1:
            raise ValueError("probability_days must be at least 1")

    def effective_critical_value(self, n_batches: int) -> float:
        """The critical value for a fleet of ``n_batches`` batches (never below the base)."""
        return self.critical_value + max(
            0.0, math.log(max(n_batches, 1) / self.critical_value_batches)
        )
