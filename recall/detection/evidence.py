"""A batch's evidence as detection reports it: the threshold, the counts and rates on each
side of it, the scan's p- and q-values, the sequential test with its dates, the evidence
rules and, for a flagged batch or one whose evidence rules held, the rate table and the rate
model; with the JSON form the API, the CLI and the stored results share. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from recall.detection.rates import METHOD_NOTE, BinRates, RateModel, json_number, json_pair

SEQUENTIAL_METHOD = (
    "binomial maximised sequential probability ratio test over thresholds, one look a day: "
    "the failures beyond each threshold against the batch's own total, expected from the "
    "other batches' rate per temperature bin; flagged on the first day the evidence rules "
    "hold and the statistic reaches the critical value"
)


@dataclass(frozen=True)
class DailyPath:
    """The sequential test day by day from ``first_day`` (one entry per day)."""

    first_day: date | None
    statistic: tuple[float, ...]
    evidence_met: tuple[bool, ...]
    threshold_c: tuple[float | None, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "first_day": None if self.first_day is None else self.first_day.isoformat(),
            "statistic": [round(s, 3) for s in self.statistic],
            "evidence_met": list(self.evidence_met),
            "threshold_c": list(self.threshold_c),
        }


@dataclass(frozen=True)
class SequentialSummary:
    """The batch's sequential test: the statistic now, its critical value and its dates."""

    statistic: float  # on the last day
    max_statistic: float
    critical_value: float
    alarm: bool
    alarm_on: date | None
    threshold_at_alarm_c: float | None
    evidence_first_held_on: date | None
    path: DailyPath | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "method": SEQUENTIAL_METHOD,
            "statistic": self.statistic,
            "max_statistic": self.max_statistic,
            "critical_value": self.critical_value,
            "alarm": self.alarm,
            "alarm_on": _iso(self.alarm_on),
            "threshold_at_alarm_c": self.threshold_at_alarm_c,
            "evidence_first_held_on": _iso(self.evidence_first_held_on),
            "path": None if self.path is None else self.path.to_json(),
        }


@dataclass(frozen=True)
class RateEvidence:
    """Rates per temperature bin and the rate model (batch vs the other batches)."""

    bins: BinRates
    model: RateModel

    def to_json(self) -> dict[str, object]:
        return {"method": METHOD_NOTE, "bins": self.bins.to_json(), "model": self.model.to_json()}


REQUIRED_JSON_KEYS = (
    "batch_key",
    "flagged",
    "variable",
    "direction",
    "threshold_c",
    "evidence_first_held_on",
    "alarm_on",
    "failures_below",
    "failures_above",
    "unit_days_below",
    "unit_days_above",
    "expected_below",
    "rate_ratio",
    "rate_ratio_ci",
    "p_value",
    "q_value",
    "sequential",
    "sites_with_failures_below",
    "failed_fraction",
    "rates",
)
EXTRA_JSON_KEYS = (
    "threshold_at_alarm_c",
    "expected_above",
    "p_value_single",
    "scan_method",
    "n_failures",
    "evidence_met",
    "reasons",
)


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


@dataclass(frozen=True)
class BatchResult:
    """Detection result of one batch on the last day of the data. For heat, "below" in
    field names reads "beyond"."""

    batch_key: str
    flagged: bool  # the sequential test alarmed on some day up to the last one
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
    sequential: SequentialSummary
    sites_with_failures_below: int
    n_failures: int
    failed_fraction: float | None
    rates: RateEvidence | None = None
    evidence_met: bool = False  # the three evidence rules, on the last day
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict with the keys of ``REQUIRED_JSON_KEYS`` + ``EXTRA_JSON_KEYS``."""
        seq = self.sequential
        return {
            "batch_key": self.batch_key,
            "flagged": self.flagged,
            "variable": self.variable,
            "direction": self.direction,
            "threshold_c": self.threshold_c,
            "evidence_first_held_on": _iso(seq.evidence_first_held_on),
            "alarm_on": _iso(seq.alarm_on),
            "threshold_at_alarm_c": seq.threshold_at_alarm_c,
            "failures_below": self.failures_below,
            "failures_above": self.failures_above,
            "unit_days_below": self.unit_days_below,
            "unit_days_above": self.unit_days_above,
            "expected_below": self.expected_below,
            "expected_above": self.expected_above,
            "rate_ratio": json_number(self.rate_ratio),
            "rate_ratio_ci": json_pair(self.rate_ratio_ci),
            "p_value": self.p_value,
            "p_value_single": self.p_value_single,
            "q_value": self.q_value,
            "scan_method": self.scan_method,
            "sequential": seq.to_json(),
            "sites_with_failures_below": self.sites_with_failures_below,
            "n_failures": self.n_failures,
            "failed_fraction": self.failed_fraction,
            "rates": None if self.rates is None else self.rates.to_json(),
            "evidence_met": self.evidence_met,
            "reasons": list(self.reasons),
        }
