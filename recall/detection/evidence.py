"""A batch's evidence as detection reports it: the threshold, the counts and rates on
each side of it, the scan's p- and q-values, the CUSUM, the evidence rules and the
logistic fit, with the JSON form the API, the CLI and the stored results share. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from recall.detection.logistic import LogisticFit


@dataclass(frozen=True)
class CusumSummary:
    """The batch's CUSUM at its chosen threshold over the weeks in the data."""

    statistic: float  # at the last week
    max_statistic: float
    threshold_h: float
    alarm: bool
    alarm_week: int | None

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {
            "statistic": self.statistic,
            "max_statistic": self.max_statistic,
            "threshold_h": self.threshold_h,
            "alarm": self.alarm,
            "alarm_week": self.alarm_week,
        }


REQUIRED_JSON_KEYS = (
    "batch_key",
    "flagged",
    "variable",
    "direction",
    "threshold_c",
    "failures_below",
    "failures_above",
    "unit_days_below",
    "unit_days_above",
    "expected_below",
    "rate_ratio",
    "rate_ratio_ci",
    "p_value",
    "q_value",
    "cusum",
    "sites_with_failures_below",
    "failed_fraction",
    "logistic",
)
EXTRA_JSON_KEYS = (
    "expected_above",
    "p_value_single",
    "scan_method",
    "n_failures",
    "evidence_met",
    "reasons",
)


def _num(x: float | None) -> float | None:
    """JSON has no inf/nan: both become null (an infinite ratio has no failures on one side)."""
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class BatchResult:
    """Detection result of one batch. For heat, "below" in field names reads "beyond"."""

    batch_key: str
    flagged: bool
    variable: str
    direction: str
    threshold_c: float | None
    failures_below: int
    failures_above: int
    unit_days_below: float
    unit_days_above: float
    expected_below: float
    expected_above: float
    rate_ratio: float
    rate_ratio_ci: tuple[float, float]
    p_value: float  # one-sided, corrected for the threshold scan
    p_value_single: float  # the chosen threshold alone (not corrected)
    q_value: float  # Benjamini-Hochberg across the batches in the result
    scan_method: str
    cusum: CusumSummary
    sites_with_failures_below: int
    n_failures: int
    failed_fraction: float | None
    logistic: LogisticFit
    evidence_met: bool = False  # the three evidence rules, whatever the signal
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict with the keys of ``REQUIRED_JSON_KEYS`` + ``EXTRA_JSON_KEYS``."""
        return {
            "batch_key": self.batch_key,
            "flagged": self.flagged,
            "variable": self.variable,
            "direction": self.direction,
            "threshold_c": self.threshold_c,
            "failures_below": self.failures_below,
            "failures_above": self.failures_above,
            "unit_days_below": self.unit_days_below,
            "unit_days_above": self.unit_days_above,
            "expected_below": self.expected_below,
            "expected_above": self.expected_above,
            "rate_ratio": _num(self.rate_ratio),
            "rate_ratio_ci": [_num(self.rate_ratio_ci[0]), _num(self.rate_ratio_ci[1])],
            "p_value": self.p_value,
            "p_value_single": self.p_value_single,
            "q_value": self.q_value,
            "scan_method": self.scan_method,
            "cusum": self.cusum.to_json(),
            "sites_with_failures_below": self.sites_with_failures_below,
            "n_failures": self.n_failures,
            "failed_fraction": self.failed_fraction,
            "logistic": self.logistic.to_json(),
            "evidence_met": self.evidence_met,
            "reasons": list(self.reasons),
        }
