"""The station-to-batch step of the exposure aggregation (pure numpy, no database).

SQL (``exposure.py``) reduces millions of units to two small aggregates: the net entries
and exits per (station, batch, day), and the temperature bin of each station's observed
days. What remains is, for every day d,

    unit_days(b, d, t) = sum over stations s observed in bin t on day d of C(s, b, d),

with C the units of batch b at station s at risk on day d (a running sum of the entries
and exits). That is one small matrix product per day: (batches x stations) times
(stations x bins), with no per-unit-day row anywhere. As a SQL join it would expand to
one row per (station, batch, day); here it takes a fraction of a second for a year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class DailyProduct:
    """Unit-days at risk per batch, day and bin: ``unit_days[i, d, k]`` is for
    ``batch_ids[i]``, day ``d`` of the window and ``bins_c[k]``."""

    batch_ids: IntArray
    bins_c: IntArray
    unit_days: FloatArray


def daily_unit_days(
    *,
    n_days: int,
    event_station: IntArray,
    event_batch: IntArray,
    event_day: IntArray,
    event_delta: FloatArray,
    obs_station: IntArray,
    obs_day: IntArray,
    obs_bin: IntArray,
) -> DailyProduct:
    """Sum over stations of (units at risk that day) x (that day's bin at the station).

    ``event_*``: net entries (+, on the first day at risk) and exits (-, the day after the
    last one) per (station, batch, day index); ``obs_*``: the bin of each observed
    (station, day index). A station without an observation on a day adds nothing that day.
    """
    batch_ids, b_idx = np.unique(event_batch, return_inverse=True)
    bins_c, k_idx = np.unique(obs_bin, return_inverse=True)
    stations, s_idx = np.unique(np.concatenate([event_station, obs_station]), return_inverse=True)
    es_idx, os_idx = s_idx[: event_station.size], s_idx[event_station.size :]
    out = np.zeros((batch_ids.size, n_days, bins_c.size))
    if batch_ids.size == 0 or bins_c.size == 0:
        return DailyProduct(batch_ids.astype(np.int64), bins_c.astype(np.int64), out)
    n_s, n_b, n_k = stations.size, batch_ids.size, bins_c.size
    event_cell = es_idx * n_b + b_idx
    event_order = np.argsort(event_day, kind="stable")
    event_bounds = np.searchsorted(event_day[event_order], np.arange(n_days + 1))
    obs_order = np.argsort(obs_day, kind="stable")
    obs_bounds = np.searchsorted(obs_day[obs_order], np.arange(n_days + 1))
    at_risk = np.zeros(n_s * n_b)
    for d in range(n_days):
        ev = event_order[event_bounds[d] : event_bounds[d + 1]]
        if ev.size:
            at_risk += np.bincount(event_cell[ev], weights=event_delta[ev], minlength=n_s * n_b)
        rows = obs_order[obs_bounds[d] : obs_bounds[d + 1]]
        if rows.size:
            # One bin per observed station and day: a one-hot (stations x bins) matrix.
            onehot = np.zeros((n_s, n_k))
            onehot[os_idx[rows], k_idx[rows]] = 1.0
            out[:, d, :] = at_risk.reshape(n_s, n_b).T @ onehot
    return DailyProduct(batch_ids.astype(np.int64), bins_c.astype(np.int64), out)
