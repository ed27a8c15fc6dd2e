"""Geography and weather of the demo scenario: towns, partner sites, stations, daily temperatures.

Pure numpy; every random draw comes from the generator passed in, in a fixed order, so the
output depends on the seed only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

# A cold-climate box around the Finnish-Swedish border (~300 km each way at lat 65.8).
LAT_MIN, LAT_MAX = 64.5, 67.2
LON_MIN, LON_MAX = 22.5, 29.0
# Sites west of this longitude are on the Swedish side of the Torne valley.
STOCKHOLM_WEST_OF = 24.0
LAT0 = (LAT_MIN + LAT_MAX) / 2
LON0 = (LON_MIN + LON_MAX) / 2
KM_PER_DEG_LAT = 111.2
KM_PER_DEG_LON = 111.2 * float(np.cos(np.radians(LAT0)))
EARTH_RADIUS_KM = 6371.0088
MAX_STATION_KM = 45.0  # design limit is 50 km; keep a margin for projection error

_FI_HEADS = (
    "Kalla", "Revon", "Taval", "Suo", "Jänkä", "Paljak", "Vaara", "Kuusi", "Rova", "Lumi",
    "Kivi", "Routa", "Hanki", "Kaamos", "Tunturi", "Poro", "Haapa", "Koivu", "Sompa", "Kelo",
)  # fmt: skip
_FI_TAILS = ("järvi", "vaara", "lahti", "niemi", "koski", "joki", "lampi", "kylä", "salmi")
_SE_HEADS = ("Björk", "Myr", "Älv", "Fjäll", "Ren", "Snö", "Tall", "Ström", "Sten", "Kall")
_SE_TAILS = ("träsk", "by", "vik", "berg", "sele", "liden", "å")
_FI_STREETS = (
    "Koulukatu", "Rantatie", "Asemakatu", "Kauppakatu", "Teollisuustie", "Pohjoisväylä",
    "Myllytie", "Kirkkokatu", "Sahantie", "Lentokentäntie", "Revontulentie", "Valtatie 4",
)  # fmt: skip
_SE_STREETS = (
    "Storgatan", "Järnvägsgatan", "Skolgatan", "Industrivägen", "Kyrkogatan", "Hamngatan",
)  # fmt: skip
_OPENING_HOURS = (
    ("Mo-Fr 08:00-17:00", 0.38),
    ("Mo-Sa 09:00-18:00", 0.22),
    ("Mo-Fr 07:00-16:00", 0.10),
    ("Mo-Su 07:00-21:00", 0.12),
    ("", 0.18),  # always open (unstaffed kiosks, masts)
)


@dataclass(frozen=True)
class Town:
    name: str
    lat: float
    lon: float
    weight: float  # relative size; sites and technicians cluster by it
    swedish: bool


@dataclass(frozen=True)
class Geography:
    towns: tuple[Town, ...]
    site_lat: np.ndarray
    site_lon: np.ndarray
    site_town: np.ndarray  # index into towns of the nearest town
    site_remote: np.ndarray  # bool
    site_address: tuple[str, ...]
    site_timezone: tuple[str, ...]
    site_hours: tuple[str, ...]
    station_lat: np.ndarray
    station_lon: np.ndarray
    station_name: tuple[str, ...]
    site_station: np.ndarray  # index of each site's nearest station


def to_km(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local equirectangular projection around the region centre (km east, km north)."""
    return (lon - LON0) * KM_PER_DEG_LON, (lat - LAT0) * KM_PER_DEG_LAT


def haversine_km(
    lat1: np.ndarray | float,
    lon1: np.ndarray | float,
    lat2: np.ndarray | float,
    lon2: np.ndarray | float,
) -> np.ndarray:
    """Great-circle distance in km, broadcasting over the inputs."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a)))


def _town_names(rng: np.random.Generator, swedish: np.ndarray) -> list[str]:
    names: list[str] = []
    for is_se in swedish:
        heads, tails = (_SE_HEADS, _SE_TAILS) if is_se else (_FI_HEADS, _FI_TAILS)
        for _ in range(50):
            name = heads[rng.integers(len(heads))] + tails[rng.integers(len(tails))]
            if name not in names:
                break
        else:
            name = f"{name} {len(names) + 1}"
        names.append(name)
    return names


def make_towns(rng: np.random.Generator, n: int) -> tuple[Town, ...]:
    """Towns spread over the region with a minimum spacing and Zipf-like sizes."""
    lats: list[float] = []
    lons: list[float] = []
    min_km = 40.0
    while len(lats) < n:
        placed = False
        for _ in range(200):
            lat = rng.uniform(LAT_MIN + 0.15, LAT_MAX - 0.15)
            lon = rng.uniform(LON_MIN + 0.3, LON_MAX - 0.3)
            if not lats or haversine_km(np.array(lats), np.array(lons), lat, lon).min() > min_km:
                lats.append(float(lat))
                lons.append(float(lon))
                placed = True
                break
        if not placed:
            min_km *= 0.8  # too many towns for the spacing; relax rather than loop forever
    lat_a, lon_a = np.array(lats), np.array(lons)
    swedish = lon_a < STOCKHOLM_WEST_OF
    names = _town_names(rng, swedish)
    weights = 1.0 / np.arange(1, n + 1) ** 0.9
    return tuple(
        Town(names[i], float(lat_a[i]), float(lon_a[i]), float(weights[i]), bool(swedish[i]))
        for i in range(n)
    )


def elevation_m(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A smooth synthetic terrain: fells rise to the north-west, river valleys stay low."""
    north = (lat - LAT_MIN) / (LAT_MAX - LAT_MIN)
    west = (LON_MAX - lon) / (LON_MAX - LON_MIN)
    fells = 480.0 * np.clip(0.65 * north + 0.35 * west - 0.25, 0, None) ** 1.4
    hills = 60.0 * (1 + np.sin(lat * 9.0) * np.cos(lon * 4.0))
    return 40.0 + fells + hills


def _place_stations(
    rng: np.random.Generator, n: int, site_x: np.ndarray, site_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Spread stations by Lloyd's algorithm over a grid of the region plus the sites."""
    gx, gy = np.meshgrid(
        np.linspace(LON_MIN, LON_MAX, 48), np.linspace(LAT_MIN, LAT_MAX, 48), indexing="xy"
    )
    grid_x, grid_y = to_km(gy.ravel(), gx.ravel())
    px = np.concatenate([grid_x, site_x])
    py = np.concatenate([grid_y, site_y])
    # Farthest-point start, then a few Lloyd iterations: a near-optimal covering.
    first = int(rng.integers(len(px)))
    chosen = [first]
    dmin = np.hypot(px - px[first], py - py[first])
    for _ in range(n - 1):
        nxt = int(np.argmax(dmin))
        chosen.append(nxt)
        dmin = np.minimum(dmin, np.hypot(px - px[nxt], py - py[nxt]))
    cx, cy = px[chosen].copy(), py[chosen].copy()
    for _ in range(15):
        owner = np.argmin(np.hypot(px[:, None] - cx, py[:, None] - cy), axis=1)
        for k in range(n):
            mask = owner == k
            if mask.any():
                cx[k], cy[k] = px[mask].mean(), py[mask].mean()
    # Real stations are sited at known coordinates with some scatter.
    cx += rng.normal(0, 2.0, n)
    cy += rng.normal(0, 2.0, n)
    return cy / KM_PER_DEG_LAT + LAT0, cx / KM_PER_DEG_LON + LON0


def make_geography(
    rng: np.random.Generator, n_towns: int, n_sites: int, n_stations: int, remote_share: float
) -> Geography:
    """Towns, sites clustered around them (plus a few remote ones) and covering stations."""
    towns = make_towns(rng, n_towns)
    t_lat = np.array([t.lat for t in towns])
    t_lon = np.array([t.lon for t in towns])
    t_w = np.array([t.weight for t in towns])
    remote = rng.random(n_sites) < remote_share
    town_of = rng.choice(n_towns, size=n_sites, p=t_w / t_w.sum())
    spread_km = rng.uniform(2.0, 9.0, n_sites)  # town sprawl plus outlying villages
    r = np.abs(rng.normal(0, 1, n_sites)) * spread_km
    ang = rng.uniform(0, 2 * np.pi, n_sites)
    lat = t_lat[town_of] + r * np.sin(ang) / KM_PER_DEG_LAT
    lon = t_lon[town_of] + r * np.cos(ang) / KM_PER_DEG_LON
    lat = np.where(remote, rng.uniform(LAT_MIN, LAT_MAX, n_sites), lat)
    lon = np.where(remote, rng.uniform(LON_MIN, LON_MAX, n_sites), lon)
    lat = np.clip(lat, LAT_MIN, LAT_MAX)
    lon = np.clip(lon, LON_MIN, LON_MAX)
    sx, sy = to_km(lat, lon)

    st_lat, st_lon = _place_stations(rng, n_stations, sx, sy)
    st_lat = np.clip(st_lat, LAT_MIN - 0.2, LAT_MAX + 0.2)
    st_lon = np.clip(st_lon, LON_MIN - 0.4, LON_MAX + 0.4)
    dist = haversine_km(lat[:, None], lon[:, None], st_lat[None, :], st_lon[None, :])
    nearest = np.argmin(dist, axis=1)
    # With very few stations some remote sites are out of reach: pull them toward their
    # station so the "nearest station within 50 km" contract always holds.
    far = dist[np.arange(n_sites), nearest] > MAX_STATION_KM
    if far.any():
        frac = MAX_STATION_KM * 0.9 / dist[far, nearest[far]]
        lat[far] = st_lat[nearest[far]] + (lat[far] - st_lat[nearest[far]]) * frac
        lon[far] = st_lon[nearest[far]] + (lon[far] - st_lon[nearest[far]]) * frac
        dist = haversine_km(lat[:, None], lon[:, None], st_lat[None, :], st_lon[None, :])
        nearest = np.argmin(dist, axis=1)
    site_town = np.argmin(
        haversine_km(lat[:, None], lon[:, None], t_lat[None, :], t_lon[None, :]), axis=1
    )

    # One postcode area per town (Finnish 9xx00, Swedish 9xx xx), a few codes within it.
    area = rng.integers(900, 990, n_towns)
    addresses: list[str] = []
    timezones: list[str] = []
    for i in range(n_sites):
        town = towns[int(site_town[i])]
        se = bool(lon[i] < STOCKHOLM_WEST_OF)
        streets = _SE_STREETS if se else _FI_STREETS
        street = streets[int(rng.integers(len(streets)))]
        number = int(rng.integers(1, 120))
        code = int(area[int(site_town[i])]) * 100 + int(rng.integers(0, 5)) * 10
        postcode = f"{code // 100} {code % 100:02d}" if se else f"{code:05d}"
        addresses.append(f"{street} {number}, {postcode} {town.name}")
        timezones.append("Europe/Stockholm" if se else "Europe/Helsinki")
    hours_p = np.array([p for _, p in _OPENING_HOURS])
    hours_idx = rng.choice(len(_OPENING_HOURS), size=n_sites, p=hours_p / hours_p.sum())
    hours = tuple(_OPENING_HOURS[int(k)][0] for k in hours_idx)

    station_names = tuple(
        _station_name(towns, t_lat, t_lon, float(st_lat[k]), float(st_lon[k]))
        for k in range(n_stations)
    )
    return Geography(
        towns=towns,
        site_lat=lat,
        site_lon=lon,
        site_town=site_town,
        site_remote=remote,
        site_address=tuple(addresses),
        site_timezone=tuple(timezones),
        site_hours=hours,
        station_lat=st_lat,
        station_lon=st_lon,
        station_name=station_names,
        site_station=nearest,
    )


def _station_name(
    towns: tuple[Town, ...], t_lat: np.ndarray, t_lon: np.ndarray, lat: float, lon: float
) -> str:
    d = haversine_km(t_lat, t_lon, lat, lon)
    k = int(np.argmin(d))
    if d[k] < 6:
        return f"{towns[k].name} airfield"
    bearing = np.degrees(np.arctan2((lon - t_lon[k]) * KM_PER_DEG_LON, (lat - t_lat[k]) * 111.2))
    compass = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[int(((bearing + 22.5) % 360) // 45)]
    return f"{towns[k].name} {compass} {round(float(d[k]))} km"


def make_weather(
    rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, start: date, end: date
) -> tuple[list[date], np.ndarray, np.ndarray]:
    """Daily (temp_min, temp_max) per station: climatology + moving fronts + local noise.

    Returns days and two arrays shaped (stations, days), rounded to 0.1 C.
    """
    n_days = (end - start).days + 1
    days = [start + timedelta(days=i) for i in range(n_days)]
    doy = np.array([d.timetuple().tm_yday for d in days], dtype=float)
    # Climatological daily mean at the region centre: ~+11 C on 1 Sep, ~-13 C mid-January.
    clim = 1.5 + 13.0 * np.cos(2 * np.pi * (doy - 200.0) / 365.25)
    winter = np.clip((10.0 - clim) / 22.0, 0.0, 1.0)  # 0 in early autumn, ~1 in deep winter

    x, y = to_km(lat, lon)
    elev = elevation_m(lat, lon)
    # Colder to the north, up the fells and inland to the east; strongest in winter.
    offset = -1.5 * (lat - LAT0) - 5.0 * (elev - 150.0) / 1000.0 - 0.4 * (lon - LON0)
    offset_t = offset[:, None] * (0.6 + 0.8 * winter[None, :])

    # Fronts: a regional anomaly plus travelling plane waves with AR(1) amplitudes, so
    # neighbouring stations share cold snaps while distant ones can differ.
    n_waves = 3
    amp_sd = 1.8 + 2.8 * winter
    common = _ar1(rng, n_days, 0.8) * amp_sd
    waves = np.zeros((len(lat), n_days))
    for _ in range(n_waves):
        direction = rng.uniform(0, 2 * np.pi)
        wavelength = rng.uniform(350.0, 900.0)
        phase0 = rng.uniform(0, 2 * np.pi)
        speed = rng.uniform(0.15, 0.5)  # radians per day: the pattern drifts across
        proj = x * np.cos(direction) + y * np.sin(direction)
        phase = 2 * np.pi * proj[:, None] / wavelength + phase0 + speed * np.arange(n_days)
        waves += np.sin(phase) * (_ar1(rng, n_days, 0.8) * 0.6 * amp_sd)[None, :]
    # Two deep-winter cold snaps, stronger in the cold interior (inversions).
    snap = np.zeros(n_days)
    for centre in (rng.uniform(0.55, 0.68), rng.uniform(0.75, 0.88)):
        c = centre * n_days
        snap -= rng.uniform(3.0, 6.0) * np.exp(-0.5 * ((np.arange(n_days) - c) / 3.5) ** 2)
    inversion = 1.0 + 0.15 * np.clip(-offset, 0, None)
    local = rng.normal(0.0, 0.8, (len(lat), n_days))

    mean = clim[None, :] + offset_t + common[None, :] + waves + snap[None, :] * inversion[:, None]
    mean += local
    span = (8.0 - 4.0 * winter)[None, :] * rng.uniform(0.75, 1.25, (len(lat), n_days))
    tmin = np.clip(np.round(mean - 0.55 * span, 1), -60.0, 40.0)
    tmax = np.clip(np.round(mean + 0.45 * span, 1), -60.0, 45.0)
    tmax = np.maximum(tmax, tmin)
    return days, tmin, tmax


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """Unit-variance AR(1) series."""
    eps = rng.normal(0.0, 1.0, n)
    out = np.empty(n)
    out[0] = eps[0]
    scale = np.sqrt(1 - phi * phi)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + scale * eps[i]
    return out
