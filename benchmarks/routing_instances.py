"""Loaders for the Solomon / Gehring & Homberger VRPTW text files into routing Problems."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from routing.engine import (
    CostWeights,
    EuclideanProvider,
    Horizon,
    Location,
    Problem,
    Technician,
    TimeWindow,
    Visit,
)

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared/benchmarks/vrptw"

# DIMACS convention: times, windows and distances are multiplied by 10.
SCALE = 10


def data_dir(override: str | None = None) -> Path:
    """The benchmark folder: ``override``, else $FIELDRECALL_VRPTW_DIR, else ../shared."""
    return Path(override or os.environ.get("FIELDRECALL_VRPTW_DIR") or DEFAULT_DIR)


@dataclass(frozen=True)
class Instance:
    name: str
    problem: Problem
    bks: float  # DIMACS distance-only best-known total (original units)


def load_instance(path: Path, bks: float, vehicles: int | None = None) -> Instance:
    """Parse a Solomon-format text file into a single-day Problem (DIMACS units)."""
    lines = path.read_text().splitlines()
    num, cap = (int(x) for x in lines[4].split()[:2])
    rows = [[float(x) for x in ln.split()] for ln in lines[9:] if ln.strip()]
    depot, customers = rows[0], rows[1:]
    horizon_end = int(depot[5] * SCALE)
    home = Location.xy(depot[1], depot[2])
    techs = tuple(
        Technician(
            id=f"v{k}",
            start=home,
            shift=TimeWindow(int(depot[4] * SCALE), horizon_end),
            capacity=cap,
        )
        for k in range(vehicles or num)
    )
    visits = tuple(
        Visit(
            id=str(int(r[0])),
            location=Location.xy(r[1], r[2]),
            service=round(r[6] * SCALE),
            windows=(TimeWindow(int(r[4] * SCALE), int(r[5] * SCALE)),),
            demand=int(r[3]),
        )
        for r in customers
    )
    problem = Problem(
        visits=visits,
        technicians=techs,
        horizon=Horizon(num_days=1, day_length=horizon_end + 1),
        travel=EuclideanProvider(scale=SCALE, truncate=True),
        costs=CostWeights(unassigned=10**7, lateness_per_day=0),
    )
    return Instance(path.stem.upper(), problem, bks)


def bks_table(folder: Path, filename: str) -> dict[str, float]:
    with (folder / "bks" / filename).open() as fh:
        return {
            r["instance"].upper(): float(r["dimacs_distonly_distance"]) for r in csv.DictReader(fh)
        }
