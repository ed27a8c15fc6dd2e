"""What detection reads, as plain data: unit-days at risk and first failures per batch, day
and temperature bin, and where each first failure happened. The SQL layer (``exposure.py``)
hands these over as arrays (``DetectionInput``); ``build_input`` makes the same from a few
hand-written cells, for tests and small cases. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ExposureCell:
    """Unit-days at risk and first failures of one batch on one day in one temperature bin."""

    batch_key: str
    day: int  # 0-based day index since the window start
    bin_c: int  # floor() of the weather variable that day at the unit's site
    unit_days: float
    failures: int


@dataclass(frozen=True)
class FailureSite:
    """One first failure: where and when, for the "distinct sites beyond the threshold" rule."""

    batch_key: str
    site_key: str
    bin_c: int
    day: int = 0


@dataclass(frozen=True, eq=False)
class DetectionInput:
    """The aggregated inputs as arrays (what ``detect`` reads; simulations build it directly).

    ``bins_c`` is ascending; ``unit_days``/``failures`` have shape (batches, days, bins) and
    hold each day's own increment (not running totals); ``site_*`` hold one entry per first
    failure (batch index, site code, bin and day index); ``first_day`` is the date of day 0,
    when the data has dates.
    """

    batch_keys: tuple[str, ...]
    bins_c: IntArray
    unit_days: FloatArray
    failures: FloatArray
    units: FloatArray
    site_batch: IntArray
    site_code: IntArray
    site_bin: IntArray
    site_day: IntArray
    first_day: date | None = None

    @property
    def n_days(self) -> int:
        return int(self.unit_days.shape[1])

    def date_of(self, day: int | None) -> date | None:
        """The calendar date of a day index (None without dates or without a day)."""
        if day is None or self.first_day is None:
            return None
        return self.first_day + timedelta(days=int(day))


def build_input(
    cells: Sequence[ExposureCell],
    failure_sites: Sequence[FailureSite],
    units_per_batch: Mapping[str, int],
    first_day: date | None = None,
) -> DetectionInput:
    """Turn hand-written cells into arrays (days without a cell hold nothing)."""
    if any(c.day < 0 for c in cells) or any(f.day < 0 for f in failure_sites):
        raise ValueError("day indexes must be >= 0")
    keys = sorted(
        {c.batch_key for c in cells} | {f.batch_key for f in failure_sites} | set(units_per_batch)
    )
    bidx = {k: i for i, k in enumerate(keys)}
    bins = np.array(
        sorted({c.bin_c for c in cells} | {f.bin_c for f in failure_sites}), dtype=np.int64
    )
    n_days = max([c.day for c in cells] + [f.day for f in failure_sites], default=-1) + 1
    ud = np.zeros((len(keys), n_days, bins.size))
    fl = np.zeros((len(keys), n_days, bins.size))
    if cells:
        b = np.array([bidx[c.batch_key] for c in cells])
        d = np.array([c.day for c in cells])
        k = np.searchsorted(bins, np.array([c.bin_c for c in cells]))
        np.add.at(ud, (b, d, k), np.array([c.unit_days for c in cells], dtype=np.float64))
        np.add.at(fl, (b, d, k), np.array([c.failures for c in cells], dtype=np.float64))
    site_codes: dict[str, int] = {}
    site_code = np.array(
        [site_codes.setdefault(f.site_key, len(site_codes)) for f in failure_sites], dtype=np.int64
    )
    return DetectionInput(
        batch_keys=tuple(keys),
        bins_c=bins,
        unit_days=ud,
        failures=fl,
        units=np.array([float(units_per_batch.get(k, 0)) for k in keys]),
        site_batch=np.array([bidx[f.batch_key] for f in failure_sites], dtype=np.int64),
        site_code=site_code,
        site_bin=np.array([f.bin_c for f in failure_sites], dtype=np.int64),
        site_day=np.array([f.day for f in failure_sites], dtype=np.int64),
        first_day=first_day,
    )
