"""Partners, batches, units and technicians of the demo scenario (pure numpy)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from api.demo.geo import KM_PER_DEG_LAT, KM_PER_DEG_LON, Geography

MODELS = ("OU-200", "OU-300", "GW-10", "KX-5")
MODEL_WEIGHTS = (0.34, 0.30, 0.21, 0.15)

_BRANDS = (
    "Arctic", "Polar", "Boreal", "Aurora", "Taiga", "Nordic", "Revontuli", "Kaamos", "Lappi",
    "Tornio", "Pohjola", "Lumi", "Northern", "Midnight Sun", "Fell", "Reindeer",
)  # fmt: skip
_TRADES = (
    "Fuel", "Energy", "Retail", "Telecom", "Logistics", "Kiosk", "Grocery", "Water",
    "Transit", "Parking", "Charging", "Rental", "Post", "Pharmacy",
)  # fmt: skip
_FIRST = (
    "Aino", "Eero", "Ilkka", "Johanna", "Kaisa", "Lasse", "Mikko", "Niina", "Olli", "Pirjo",
    "Riikka", "Sami", "Tuula", "Ville", "Anna", "Erik", "Linnea", "Nils", "Sofia", "Jonas",
)  # fmt: skip
_LAST = (
    "Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Heikkinen", "Koskinen", "Lehtonen",
    "Kemppainen", "Rautio", "Väisänen", "Lindqvist", "Nilsson", "Eriksson", "Lundström",
)  # fmt: skip
_SHIFTS = (("08:00", "16:30"), ("07:00", "15:30"), ("09:00", "17:30"))


@dataclass(frozen=True)
class Partners:
    key: tuple[str, ...]
    name: tuple[str, ...]
    email: tuple[str, ...]
    phone: tuple[str, ...]
    site_partner: np.ndarray  # partner index per site (sites in key order)
    site_order: np.ndarray  # geography site index for each site key, in key order
    site_name: tuple[str, ...]  # in key order


@dataclass(frozen=True)
class Batches:
    key: tuple[str, ...]
    model: tuple[str, ...]
    rev: tuple[str, ...]
    manufactured: tuple[date, ...]
    cold: int
    decoy: int
    cold_installed: int


@dataclass(frozen=True)
class Units:
    serial: tuple[str, ...]
    batch: np.ndarray  # batch index
    site: np.ndarray  # site index in key order
    installed: np.ndarray  # days relative to season start (may be negative)
    firmware: tuple[str, ...]


def slug(text: str) -> str:
    """ASCII, lower-case, hyphenated: 'Kaamos Fuel Oy' -> 'kaamos-fuel'."""
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = [w for w in ascii_.lower().replace("-", " ").split() if w not in ("oy", "ab")]
    return "-".join(words)


def make_partners(rng: np.random.Generator, n: int, geo: Geography) -> Partners:
    """Partners of Zipf-like sizes, each with a home town where most of its sites are."""
    n_sites = len(geo.site_lat)
    if n_sites < n:
        raise ValueError("need at least one site per partner")
    names: list[str] = []
    while len(names) < n:
        brand = _BRANDS[int(rng.integers(len(_BRANDS)))]
        trade = _TRADES[int(rng.integers(len(_TRADES)))]
        name = f"{brand} {trade}"
        if any(n_.startswith(name) for n_ in names):
            name = f"{name} {len(names) + 1}"
        names.append(name)
    n_towns = len(geo.towns)
    home = rng.integers(0, n_towns, n)
    size = 1.0 / np.arange(1, n + 1) ** 0.8
    prob = size[None, :] * np.where(home[None, :] == geo.site_town[:, None], 6.0, 1.0)
    prob /= prob.sum(axis=1, keepdims=True)
    u = rng.random(n_sites)
    owner = np.minimum((prob.cumsum(axis=1) < u[:, None]).sum(axis=1), n - 1)
    # Every partner has at least one site: take one from whoever has the most.
    for p in range(n):
        if not (owner == p).any():
            counts = np.bincount(owner, minlength=n)
            donor = int(np.argmax(counts))
            owner[int(np.flatnonzero(owner == donor)[0])] = p
    order = np.lexsort((geo.site_lat, geo.site_town, owner))
    site_partner = owner[order]

    full_names, emails, phones = [], [], []
    for p in range(n):
        swedish = geo.towns[int(home[p])].swedish
        full_names.append(f"{names[p]} {'AB' if swedish else 'Oy'}")
        emails.append(f"ops@{slug(names[p])}.example")
        if rng.random() < 0.1:
            phones.append("")
        elif swedish:
            d = rng.integers(0, 10, 7)
            phones.append(f"+46 70 {d[0]}{d[1]}{d[2]} {d[3]}{d[4]} {d[5]}{d[6]}")
        else:
            d = rng.integers(0, 10, 7)
            phones.append(f"+358 40 {d[0]}{d[1]}{d[2]} {d[3]}{d[4]}{d[5]}{d[6]}")
    site_names: list[str] = []
    seen: dict[str, int] = {}
    for gi, p in zip(order, site_partner, strict=True):
        town = geo.towns[int(geo.site_town[gi])].name
        base = f"{names[int(p)]} {town}" + (" roadside" if geo.site_remote[gi] else "")
        seen[base] = seen.get(base, 0) + 1
        site_names.append(base if seen[base] == 1 else f"{base} {seen[base]}")
    return Partners(
        key=tuple(f"P{i + 1:04d}" for i in range(n)),
        name=tuple(full_names),
        email=tuple(emails),
        phone=tuple(phones),
        site_partner=site_partner,
        site_order=order,
        site_name=tuple(site_names),
    )


def make_batches(rng: np.random.Generator, n: int, season_start: date) -> Batches:
    """Batches made about weekly over the year before the season, a few per model."""
    if n < 4:
        raise ValueError("need at least 4 batches (cold, decoy, cold-installed, ordinary)")
    span = 330
    offsets = np.sort(np.linspace(0, span - 30, n) + rng.uniform(0, 25, n)).astype(int)
    made = [season_start - timedelta(days=span) + timedelta(days=int(o)) for o in offsets]
    models = [MODELS[int(k)] for k in rng.choice(len(MODELS), size=n, p=list(MODEL_WEIGHTS))]
    keys: list[str] = []
    revs: list[str] = []
    per_year: dict[int, int] = {}
    per_model: dict[str, int] = {}
    for m, d in zip(models, made, strict=True):
        per_year[d.year] = per_year.get(d.year, 0) + 1
        keys.append(f"B{d.year}-{per_year[d.year]:02d}")
        per_model[m] = per_model.get(m, 0) + 1
        revs.append(f"rev {'ABCDEFGH'[min((per_model[m] - 1) // 4, 7)]}")
    # The story's culprit is an outdoor unit made mid-year, installed before winter.
    middle = list(range(n // 4, max(n // 4 + 1, 3 * n // 4)))
    outdoor = [i for i in middle if models[i] == "OU-300"] or middle
    cold = int(outdoor[int(rng.integers(len(outdoor)))])
    rest = [i for i in range(n) if i != cold]
    decoy = int(rest[int(rng.integers(len(rest)))])
    rest = [i for i in rest if i != decoy]
    cold_installed = int(rest[int(rng.integers(len(rest)))])
    return Batches(
        tuple(keys), tuple(models), tuple(revs), tuple(made), cold, decoy, cold_installed
    )


def make_units(
    rng: np.random.Generator,
    n: int,
    batches: Batches,
    site_coldness: np.ndarray,
    season_start: date,
    season_end: date,
    coldest_share: float,
) -> Units:
    """Units spread over batches and sites; the cold-installed batch only goes to the coldest
    sites (``site_coldness``: lower is colder, per site in key order)."""
    n_b = len(batches.key)
    n_sites = len(site_coldness)
    share = rng.dirichlet(np.full(n_b, 4.0))
    # Give the story's batches enough units that their signal is visible at any size.
    share[batches.cold] = max(share[batches.cold], 1.6 / n_b)
    share[batches.decoy] = max(share[batches.decoy], 1.5 / n_b)
    share /= share.sum()
    sizes = rng.multinomial(n, share)
    batch = np.repeat(np.arange(n_b), sizes)

    capacity = rng.lognormal(0.0, 0.8, n_sites)
    p_all = capacity / capacity.sum()
    n_cold = max(2, round(coldest_share * n_sites))
    coldest = np.argsort(site_coldness, kind="stable")[:n_cold]
    p_cold = np.zeros(n_sites)
    p_cold[coldest] = capacity[coldest]
    p_cold /= p_cold.sum()
    site = rng.choice(n_sites, size=n, p=p_all)
    ci = batch == batches.cold_installed
    site[ci] = rng.choice(n_sites, size=int(ci.sum()), p=p_cold)

    made = np.array([(d - season_start).days for d in batches.manufactured])
    lag = 21 + rng.gamma(2.0, 35.0, n).astype(int)
    latest = (season_end - season_start).days - 45
    installed = np.minimum(made[batch] + lag, latest)
    installed = np.maximum(installed, made[batch] + 7)

    order = np.lexsort((installed, site, batch))
    batch, site, installed = batch[order], site[order], installed[order]
    fw_minor = np.clip((installed + 360) // 75, 0, 9)
    fw_patch = rng.integers(0, 4, n)
    firmware = tuple(f"3.{int(a)}.{int(b)}" for a, b in zip(fw_minor, fw_patch, strict=True))
    serial = tuple(
        f"FR-{batches.model[int(b)].replace('-', '')}-{i + 1:06d}" for i, b in enumerate(batch)
    )
    return Units(serial, batch, site, installed, firmware)


@dataclass(frozen=True)
class Technicians:
    key: tuple[str, ...]
    name: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray
    skills: tuple[str, ...]
    shift_start: tuple[str, ...]
    shift_end: tuple[str, ...]
    workdays: tuple[str, ...]


def make_technicians(rng: np.random.Generator, n: int, geo: Geography) -> Technicians:
    """Technicians living in towns; every model is covered by someone's skills."""
    w = np.array([t.weight for t in geo.towns])
    town = rng.choice(len(geo.towns), size=n, p=w / w.sum())
    lat = np.array([geo.towns[int(t)].lat for t in town]) + rng.normal(0, 2.0, n) / KM_PER_DEG_LAT
    lon = np.array([geo.towns[int(t)].lon for t in town]) + rng.normal(0, 2.0, n) / KM_PER_DEG_LON
    names: list[str] = []
    skills: list[str] = []
    starts: list[str] = []
    ends: list[str] = []
    days: list[str] = []
    for i in range(n):
        for _ in range(50):
            nm = f"{_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}"
            if nm not in names:
                break
        names.append(nm)
        k = int(rng.integers(2, len(MODELS) + 1))
        chosen = set(rng.choice(len(MODELS), size=k, replace=False).tolist())
        chosen.add(i % len(MODELS))
        skills.append(";".join(MODELS[m] for m in sorted(chosen)))
        s, e = _SHIFTS[int(rng.choice(len(_SHIFTS), p=[0.6, 0.25, 0.15]))]
        starts.append(s)
        ends.append(e)
        days.append("Tu-Sa" if rng.random() < 0.15 else "Mo-Fr")
    return Technicians(
        key=tuple(f"T{i + 1:03d}" for i in range(n)),
        name=tuple(names),
        lat=lat,
        lon=lon,
        skills=tuple(skills),
        shift_start=tuple(starts),
        shift_end=tuple(ends),
        workdays=tuple(days),
    )
