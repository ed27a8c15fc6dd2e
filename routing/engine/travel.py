"""Travel-time providers: integer time-unit matrices between locations.

All providers return a square ``numpy`` int64 matrix in the problem's time units; the
solver uses it both as drive cost and as travel time.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Sequence

import numpy as np

from routing.engine.problem import Location, Problem

EARTH_RADIUS_KM = 6371.0088


def _coords(locations: Sequence[Location]) -> np.ndarray:
    return np.array([(loc.lat, loc.lon) for loc in locations], dtype=float).reshape(-1, 2)


def haversine_km(locations: Sequence[Location]) -> np.ndarray:
    """Great-circle distances in km between every pair of locations (vectorised)."""
    rad = np.radians(_coords(locations))
    lat, lon = rad[:, 0], rad[:, 1]
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


class HaversineProvider:
    """Offline default: great-circle distance times a road circuity factor at a speed.

    Times are rounded up to whole units so that a non-zero distance never costs zero.
    """

    def __init__(
        self, circuity: float = 1.3, speed_kmh: float = 60.0, units_per_hour: float = 60.0
    ) -> None:
        if speed_kmh <= 0 or circuity <= 0:
            raise ValueError("speed and circuity must be positive")
        self.circuity = circuity
        self.speed_kmh = speed_kmh
        self.units_per_hour = units_per_hour

    def matrix(self, locations: Sequence[Location]) -> np.ndarray:
        hours = haversine_km(locations) * self.circuity / self.speed_kmh
        return np.ceil(hours * self.units_per_hour - 1e-9).astype(np.int64)


class EuclideanProvider:
    """Planar distance times ``scale``, truncated (DIMACS: floor(10 * euclidean))."""

    def __init__(self, scale: float = 10.0, truncate: bool = True) -> None:
        self.scale = scale
        self.truncate = truncate

    def matrix(self, locations: Sequence[Location]) -> np.ndarray:
        xy = _coords(locations)
        d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=-1)) * self.scale
        # A tiny epsilon keeps exact integers (e.g. 3-4-5 triangles) from flooring down.
        out = np.floor(d + 1e-9) if self.truncate else np.rint(d)
        return out.astype(np.int64)


class MatrixProvider:
    """A fixed matrix indexed by ``Location.lat`` as an integer node id (for tests)."""

    def __init__(self, matrix: np.ndarray) -> None:
        self._m = np.asarray(matrix, dtype=np.int64)

    def matrix(self, locations: Sequence[Location]) -> np.ndarray:
        idx = np.array([int(loc.lat) for loc in locations], dtype=np.int64)
        return self._m[np.ix_(idx, idx)]


class PrecomputedMatrix:
    """A matrix computed once, standing in for the real provider where the same locations
    are solved again (solver portfolio workers, territories, sub-problems)."""

    def __init__(self, matrix: np.ndarray) -> None:
        self._m = matrix

    def matrix(self, locations: Sequence[object]) -> np.ndarray:
        return self._m


class OsrmProvider:
    """Client of an OSRM ``/table/v1/driving/`` service, with an in-memory cache.

    Durations (seconds) are converted to time units. The cache is one growing numpy
    matrix over every point seen so far (NaN where a pair was never fetched), so a
    matrix for known sites is a single fancy-indexing lookup and re-planning the same
    sites makes no request at all. Requests are chunked so that no URL carries more
    than ``max_locations`` coordinates.
    """

    def __init__(
        self,
        base_url: str,
        units_per_hour: float = 60.0,
        profile: str = "driving",
        max_locations: int = 100,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.units_per_hour = units_per_hour
        self.profile = profile
        self.max_locations = max(2, max_locations)
        self.timeout_s = timeout_s
        self.requests_made = 0
        self._ids: dict[tuple[float, float], int] = {}
        self._points: list[tuple[float, float]] = []
        self._secs = np.full((0, 0), np.nan)
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        # Handed to a solver process with its cache; the lock is that process's own.
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _grow(self, pts: list[tuple[float, float]]) -> np.ndarray:
        """Cache ids of ``pts``, registering new points (and enlarging the matrix)."""
        for p in pts:
            if p not in self._ids:
                self._ids[p] = len(self._points)
                self._points.append(p)
        n, old = len(self._points), self._secs.shape[0]
        if n > old:
            grown = np.full((n, n), np.nan)
            grown[:old, :old] = self._secs
            self._secs = grown
        return np.array([self._ids[p] for p in pts], dtype=np.int64)

    def _fetch(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Fill the cache for sources ``src`` x destinations ``dst`` (cache ids)."""
        ids = list(dict.fromkeys(src.tolist() + dst.tolist()))
        pos = {c: i for i, c in enumerate(ids)}
        coords = ";".join(f"{self._points[c][1]:.6f},{self._points[c][0]:.6f}" for c in ids)
        sources = ";".join(str(pos[c]) for c in src.tolist())
        destinations = ";".join(str(pos[c]) for c in dst.tolist())
        url = (
            f"{self.base_url}/table/v1/{self.profile}/{coords}"
            f"?sources={sources}&destinations={destinations}&annotations=duration"
        )
        with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
            body = json.loads(resp.read().decode("utf-8"))
        self.requests_made += 1
        if body.get("code") != "Ok":
            raise RuntimeError(f"OSRM table error: {body.get('code')}: {body.get('message')}")
        # OSRM returns null for unroutable pairs; they become +inf (unreachable).
        block = np.array(
            [[np.inf if v is None else v for v in row] for row in body["durations"]], dtype=float
        )
        self._secs[np.ix_(src, dst)] = block

    def matrix(self, locations: Sequence[Location]) -> np.ndarray:
        pts = [(loc.lat, loc.lon) for loc in locations]
        with self._lock:
            idx = self._grow(pts)
            unique = np.unique(idx)
            missing = np.isnan(self._secs[np.ix_(unique, unique)])
            step = max(1, self.max_locations // 2)
            src_missing = unique[missing.any(axis=1)]
            for a in range(0, len(src_missing), step):
                src = src_missing[a : a + step]
                for b in range(0, len(unique), step):
                    dst = unique[b : b + step]
                    if np.isnan(self._secs[np.ix_(src, dst)]).any():
                        self._fetch(src, dst)
            secs = self._secs[np.ix_(idx, idx)]
        secs = np.where(np.isfinite(secs), secs, 10**7)
        return np.ceil(secs / 3600.0 * self.units_per_hour - 1e-9).astype(np.int64)


def home_matrices(problem: Problem, chunk: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Travel times from the technicians' homes: (homes x homes, homes x visits).

    Asked of the provider in chunks of visits, so a large problem never needs its
    whole matrix (10,000 visits would make it 800 MB).
    """
    homes = [t.start for t in problem.technicians]
    n_t = len(homes)
    home_m = np.asarray(problem.travel.matrix(homes), dtype=float).reshape(n_t, n_t)
    to_visits = np.zeros((n_t, len(problem.visits)))
    for a in range(0, len(problem.visits), chunk):
        locs = [v.location for v in problem.visits[a : a + chunk]]
        m = np.asarray(problem.travel.matrix(homes + locs), dtype=float)
        to_visits[:, a : a + len(locs)] = m[:n_t, n_t:]
    return home_m, to_visits
