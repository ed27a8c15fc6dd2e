"""The station-to-batch step of the exposure aggregation (pure numpy, no database).

SQL (``exposure.py``) reduces a million units to three small aggregates: entries and
exits per (station, batch, week), weather days per (station, week, bin), and the in-week part
of every entry and exit per (batch, week, bin). What remains is a sum over stations,

    unit_days(b, w, t) = sum over s of C(s, b, w) * N(s, w, t),

with C the units at risk when week w starts. That is one small matrix product per week.
As a SQL join it expanded to one row per (station, batch, week, bin), 13 million rows at a
million units, and took most of a detection run; here it is a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class WeeklyProduct:
    """Unit-days at risk per batch, week and bin: ``unit_days[i, w, k]`` is for
    ``batch_ids[i]``, week ``w`` and ``bins_c[k]``."""

    batch_ids: IntArray
    bins_c: IntArray
    unit_days: FloatArray


def weekly_unit_days(
    *,
    n_weeks: int,
    delta_station: IntArray,
    delta_batch: IntArray,
    delta_week: IntArray,
    delta: FloatArray,
    days_station: IntArray,
    days_week: IntArray,
    days_bin: IntArray,
    days: FloatArray,
) -> WeeklyProduct:
    """Sum over stations of (units at risk when each week starts) x (days per bin that week).

    ``delta_*`` are the net entries (+) and exits (-) per (station, batch, week); ``days_*``
    the weather days per (station, week, bin). The in-week part of entries and exits is not
    included (SQL adds it per batch, week and bin).
    """
    batch_ids, b_idx = np.unique(delta_batch, return_inverse=True)
    bins_c, k_idx = np.unique(days_bin, return_inverse=True)
    stations, s_idx = np.unique(np.concatenate([delta_station, days_station]), return_inverse=True)
    ds_idx, ns_idx = s_idx[: delta_station.size], s_idx[delta_station.size :]
    out = np.zeros((batch_ids.size, n_weeks, bins_c.size))
    if batch_ids.size == 0 or bins_c.size == 0:
        return WeeklyProduct(batch_ids.astype(np.int64), bins_c.astype(np.int64), out)
    n_s, n_b, n_k = stations.size, batch_ids.size, bins_c.size
    at_risk = np.zeros(n_s * n_b)
    delta_cell = ds_idx * n_b + b_idx
    days_cell = ns_idx * n_k + k_idx
    delta_order = np.argsort(delta_week, kind="stable")
    delta_bounds = np.searchsorted(delta_week[delta_order], np.arange(n_weeks + 1))
    days_order = np.argsort(days_week, kind="stable")
    days_bounds = np.searchsorted(days_week[days_order], np.arange(n_weeks + 1))
    for w in range(n_weeks):
        rows = days_order[days_bounds[w] : days_bounds[w + 1]]
        if rows.size:
            n_w = np.bincount(days_cell[rows], weights=days[rows], minlength=n_s * n_k)
            out[:, w, :] = at_risk.reshape(n_s, n_b).T @ n_w.reshape(n_s, n_k)
        # Entries and exits of week w count from the next week on (their own week is SQL's).
        ev = delta_order[delta_bounds[w] : delta_bounds[w + 1]]
        at_risk += np.bincount(delta_cell[ev], weights=delta[ev], minlength=n_s * n_b)
    return WeeklyProduct(batch_ids.astype(np.int64), bins_c.astype(np.int64), out)
