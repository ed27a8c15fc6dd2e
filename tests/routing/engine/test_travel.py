"""Travel-time providers on known distances; the OSRM client against a local stub."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from routing.engine.problem import Location, TravelTimeProvider
from routing.engine.travel import EuclideanProvider, HaversineProvider, OsrmProvider, haversine_km

PARIS = Location(48.8566, 2.3522)
LONDON = Location(51.5074, -0.1278)


def test_haversine_paris_london():
    km = haversine_km([PARIS, LONDON])
    assert km[0, 1] == pytest.approx(343.5, abs=1.5)
    assert km[0, 0] == 0 and km[1, 0] == km[0, 1]


def test_haversine_provider_applies_circuity_and_speed():
    m = HaversineProvider(circuity=1.3, speed_kmh=65.0).matrix([PARIS, LONDON])
    # 343.5 km * 1.3 / 65 km/h = 6.87 h = 412 minutes, rounded up.
    assert m.dtype == np.int64
    assert 410 <= m[0, 1] <= 414
    assert isinstance(HaversineProvider(), TravelTimeProvider)


def test_euclidean_truncates_like_dimacs():
    m = EuclideanProvider(scale=10).matrix(
        [Location.xy(0, 0), Location.xy(3, 4), Location.xy(1, 1)]
    )
    assert m[0, 1] == 50  # exact integers survive the floor
    assert m[0, 2] == 14  # floor(10 * 1.414...)


class _Osrm(BaseHTTPRequestHandler):
    """Speaks the /table/v1/driving/ shape: one hour per degree of longitude."""

    calls: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        _Osrm.calls.append(url.path)
        coords = url.path.split("/table/v1/driving/")[1].split(";")
        lons = [float(c.split(",")[0]) for c in coords]
        q = parse_qs(url.query)
        src = [int(x) for x in q["sources"][0].split(";")]
        dst = [int(x) for x in q["destinations"][0].split(";")]
        # Longitudes beyond 100 stand for an island: unroutable, OSRM answers null.
        body = {
            "code": "Ok",
            "durations": [
                [
                    None if (lons[i] > 100) != (lons[j] > 100) else abs(lons[i] - lons[j]) * 3600
                    for j in dst
                ]
                for i in src
            ],
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def osrm_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Osrm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Osrm.calls.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_osrm_table_client_converts_and_caches(osrm_url: str):
    locs = [Location(45.0, 1.0), Location(45.0, 2.0), Location(45.0, 3.5)]
    osrm = OsrmProvider(osrm_url, max_locations=100)
    m = osrm.matrix(locs)
    assert m.tolist() == [[0, 60, 150], [60, 0, 90], [150, 90, 0]]
    assert len(_Osrm.calls) == 1
    # Same sites again, in another order: served from the cache, no request.
    again = osrm.matrix(list(reversed(locs)))
    assert again.tolist() == [[0, 90, 150], [90, 0, 60], [150, 60, 0]]
    assert len(_Osrm.calls) == 1


def test_osrm_client_chunks_large_requests(osrm_url: str):
    locs = [Location(45.0, float(i)) for i in range(7)]
    osrm = OsrmProvider(osrm_url, max_locations=4)
    m = osrm.matrix(locs)
    assert len(_Osrm.calls) > 1
    assert m[0, 6] == 360 and m[6, 0] == 360


def test_osrm_client_asks_again_only_when_a_site_is_new(osrm_url: str):
    locs = [Location(45.0, 1.0), Location(45.0, 2.0)]
    osrm = OsrmProvider(osrm_url)
    osrm.matrix(locs)
    m = osrm.matrix([*locs, Location(45.0, 4.0)])
    assert len(_Osrm.calls) == 2
    assert m.tolist() == [[0, 60, 180], [60, 0, 120], [180, 120, 0]]
    assert osrm.matrix([Location(45.0, 4.0), locs[0]]).tolist() == [[0, 180], [180, 0]]
    assert len(_Osrm.calls) == 2


def test_osrm_unroutable_pairs_become_prohibitive(osrm_url: str):
    m = OsrmProvider(osrm_url).matrix([Location(45.0, 1.0), Location(45.0, 120.0)])
    # null -> unreachable: far more than any working day, so no route uses the leg.
    assert m[0, 1] > 100_000 and m[1, 0] > 100_000 and m[0, 0] == 0
