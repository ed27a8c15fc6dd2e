"""What detection reads, as plain data: the exposure cells, failure sites and per-unit
extremes the SQL layer aggregates (``exposure.py``), and the same as arrays for the
statistics (``build_input``; the simulator builds ``DetectionInput`` directly). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ExposureCell:
    """Unit-days at risk and first failures, per batch, week and temperature bin."""

    batch_key: str
    week: int  # 0-based week index since the window start
    bin_c: int  # floor() of the weather variable that day at the unit's site
    unit_days: float
    failures: int


@dataclass(frozen=True)
class FailureSite:
    """One first failure, for the "distinct sites beyond the threshold" rule."""

    batch_key: str
    site_key: str
    bin_c: int


@dataclass(frozen=True)
class LogisticCell:
    """Units grouped by batch and the most extreme value seen during their exposure."""

    batch_key: str
    extreme_c: float
    units: int
    failed: int


@dataclass(frozen=True, eq=False)
class DetectionInput:
    """The aggregated inputs as arrays (what ``detect`` builds; simulations build it directly).

    ``bins_c`` is ascending; ``unit_days``/``failures`` have shape (batches, weeks, bins);
    ``site_*`` hold one entry per first failure; ``logistic`` maps a batch index to arrays
    (extreme_c, units, failed).
    """

    batch_keys: tuple[str, ...]
    bins_c: IntArray
    unit_days: FloatArray
    failures: FloatArray
    units: FloatArray
    site_batch: IntArray
    site_code: IntArray
    site_bin: IntArray
    logistic: Mapping[int, tuple[FloatArray, FloatArray, FloatArray]] = field(default_factory=dict)


def build_input(
    cells: Sequence[ExposureCell],
    failure_sites: Sequence[FailureSite],
    logistic_cells: Sequence[LogisticCell],
    units_per_batch: Mapping[str, int],
) -> DetectionInput:
    """Turn the SQL layer's dataclasses into arrays."""
    keys = sorted(
        {c.batch_key for c in cells}
        | {f.batch_key for f in failure_sites}
        | {lc.batch_key for lc in logistic_cells}
        | set(units_per_batch)
    )
    bidx = {k: i for i, k in enumerate(keys)}
    bins = np.array(
        sorted({c.bin_c for c in cells} | {f.bin_c for f in failure_sites}), dtype=np.int64
    )
    n_weeks = max((c.week for c in cells), default=-1) + 1
    if any(c.week < 0 for c in cells):
        raise ValueError("ExposureCell.week must be >= 0")
    ud = np.zeros((len(keys), n_weeks, bins.size))
    fl = np.zeros((len(keys), n_weeks, bins.size))
    if cells:
        b = np.array([bidx[c.batch_key] for c in cells])
        w = np.array([c.week for c in cells])
        k = np.searchsorted(bins, np.array([c.bin_c for c in cells]))
        np.add.at(ud, (b, w, k), np.array([c.unit_days for c in cells], dtype=np.float64))
        np.add.at(fl, (b, w, k), np.array([c.failures for c in cells], dtype=np.float64))
    site_codes: dict[str, int] = {}
    site_code = np.array(
        [site_codes.setdefault(f.site_key, len(site_codes)) for f in failure_sites], dtype=np.int64
    )
    grouped: dict[int, list[LogisticCell]] = {}
    for lc in logistic_cells:
        grouped.setdefault(bidx[lc.batch_key], []).append(lc)
    logistic = {
        i: (
            np.array([c.extreme_c for c in g], dtype=np.float64),
            np.array([c.units for c in g], dtype=np.float64),
            np.array([c.failed for c in g], dtype=np.float64),
        )
        for i, g in grouped.items()
    }
    return DetectionInput(
        batch_keys=tuple(keys),
        bins_c=bins,
        unit_days=ud,
        failures=fl,
        units=np.array([float(units_per_batch.get(k, 0)) for k in keys]),
        site_batch=np.array([bidx[f.batch_key] for f in failure_sites], dtype=np.int64),
        site_code=site_code,
        site_bin=np.array([f.bin_c for f in failure_sites], dtype=np.int64),
        logistic=logistic,
    )
