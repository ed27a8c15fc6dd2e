"""Failure simulation of the demo scenario: a daily hazard per unit, vectorised units x days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

_SYMPTOMS_COLD = (
    "does not boot after a frosty night",
    "heater fault E12",
    "display blank, no response",
    "power supply dead below freezing",
    "cracked solder joint suspected, intermittent power",
)
_SYMPTOMS_ANY = (
    "intermittent reboots",
    "modem offline",
    "sensor reads out of range",
    "battery not charging",
    "condensation inside enclosure",
    "keypad unresponsive",
)
_SYMPTOMS_REPEAT = (
    "failed again after field reset",
    "same fault recurred",
    "still offline after power cycle",
)
_SOURCES = ("telemetry", "partner", "technician")
_SOURCE_P = (0.5, 0.35, 0.15)


@dataclass(frozen=True)
class Hazard:
    """Ground-truth hazard model: h = base * fleet(T) * batch(T), T = nearest station's
    daily temp_min_c."""

    base_daily: float
    fleet_cold_below_c: float
    fleet_cold_multiplier: float
    cold_batch: int
    cold_threshold_c: float
    cold_multiplier: float
    decoy_batch: int
    decoy_multiplier: float


@dataclass(frozen=True)
class Failures:
    unit: np.ndarray  # unit index per report, sorted by time
    occurred_at: tuple[str, ...]
    symptom: tuple[str, ...]
    ambient: np.ndarray
    source: tuple[str, ...]
    first_failure_day: np.ndarray  # per unit, -1 if none within the season


def simulate_first_failures(
    rng: np.random.Generator,
    hz: Hazard,
    unit_batch: np.ndarray,
    unit_installed: np.ndarray,
    unit_temp_min: np.ndarray,
) -> np.ndarray:
    """Day index of each unit's first failure in the season, -1 if it survives.

    ``unit_temp_min`` is (units, days). Exact discrete-time sampling: a unit survives day d
    with probability 1 - h[d], so it fails once its cumulative -log(1 - h) passes an
    Exp(1) draw.
    """
    n_units, n_days = unit_temp_min.shape
    t = unit_temp_min
    h = np.full(t.shape, hz.base_daily)
    h = np.where(t < hz.fleet_cold_below_c, h * hz.fleet_cold_multiplier, h)
    is_cold = (unit_batch == hz.cold_batch)[:, None]
    h = np.where(is_cold & (t < hz.cold_threshold_c), h * hz.cold_multiplier, h)
    h[unit_batch == hz.decoy_batch] *= hz.decoy_multiplier
    active = np.arange(n_days)[None, :] >= unit_installed[:, None]
    cum = np.cumsum(np.where(active, -np.log1p(-np.minimum(h, 0.5)), 0.0), axis=1)
    need = np.asarray(rng.exponential(1.0, n_units))
    crossed = cum > need[:, None]
    return np.where(crossed[:, -1], np.argmax(crossed, axis=1), -1)


def make_reports(
    rng: np.random.Generator,
    hz: Hazard,
    first_day: np.ndarray,
    unit_batch: np.ndarray,
    unit_tz: list[str],
    unit_tmin: np.ndarray,
    unit_tmax: np.ndarray,
    season_start: date,
    repeat_share: float,
) -> Failures:
    """Failure reports: one per failed unit plus a later repeat report for a few."""
    n_days = unit_tmin.shape[1]
    failed = np.flatnonzero(first_day >= 0)
    days = first_day[failed]
    repeat = failed[rng.random(len(failed)) < repeat_share]
    repeat_day = first_day[repeat] + 2 + rng.geometric(0.12, len(repeat))
    keep = repeat_day < n_days
    units = np.concatenate([failed, repeat[keep]])
    days = np.concatenate([days, repeat_day[keep]])
    is_repeat = np.concatenate([np.zeros(len(failed), bool), np.ones(int(keep.sum()), bool)])

    tmin = unit_tmin[units, days]
    tmax = unit_tmax[units, days]
    cold = tmin < hz.fleet_cold_below_c
    # Cold failures show up around the early-morning minimum, others at any hour.
    hour = np.where(
        cold, np.clip(rng.normal(6.5, 2.5, len(units)), 0, 23.9), rng.uniform(0, 24, len(units))
    )
    minute_of_day = (hour * 60).astype(int)
    diurnal = (1 - np.cos(2 * np.pi * (hour - 5.0) / 24.0)) / 2  # 0 at 05:00, 1 at 17:00
    ambient = np.round(tmin + (tmax - tmin) * diurnal + rng.normal(0, 0.8, len(units)), 1)
    source_idx = rng.choice(len(_SOURCES), size=len(units), p=list(_SOURCE_P))
    sym_any = rng.integers(0, len(_SYMPTOMS_ANY), len(units))
    sym_cold = rng.integers(0, len(_SYMPTOMS_COLD), len(units))
    sym_rep = rng.integers(0, len(_SYMPTOMS_REPEAT), len(units))
    cold_batch = unit_batch[units] == hz.cold_batch

    stamps: list[datetime] = []
    texts: list[str] = []
    for i in range(len(units)):
        day = season_start + timedelta(days=int(days[i]))
        local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(unit_tz[units[i]]))
        stamps.append(local + timedelta(minutes=int(minute_of_day[i])))
        if is_repeat[i]:
            texts.append(_SYMPTOMS_REPEAT[sym_rep[i]])
        elif (cold_batch[i] and tmin[i] < hz.cold_threshold_c) or (cold[i] and sym_any[i] < 2):
            texts.append(_SYMPTOMS_COLD[sym_cold[i]])
        else:
            texts.append(_SYMPTOMS_ANY[sym_any[i]])
    order = sorted(range(len(units)), key=lambda i: (stamps[i], int(units[i]), bool(is_repeat[i])))
    idx = np.array(order, dtype=int)
    return Failures(
        unit=units[idx] if len(idx) else units,
        occurred_at=tuple(stamps[i].isoformat(timespec="seconds") for i in order),
        symptom=tuple(texts[i] for i in order),
        ambient=ambient[idx] if len(idx) else ambient,
        source=tuple(_SOURCES[int(source_idx[i])] for i in order),
        first_failure_day=first_day,
    )
