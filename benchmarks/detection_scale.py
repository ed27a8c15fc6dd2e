"""Scale of one detection run: ``--size 1m`` (1,000,000 units, 20,000 failure reports) or
``--size 10m`` (10,000,000 units, 200,000 failure reports), 500 stations x 365 days.

Builds the fleet through the product's importer (COPY into staging, set-based upserts; the
units in growing chunks that each take the bulk path), in a child process, then times one
full detection run in this process exactly as the worker executes it (``execute_run``:
exposure aggregation in PostGIS, the daily sequential test and the evidence, iceberg of the
flagged batches, results and signals stored) and prints the time split between the SQL
aggregation and the statistics.

Peak memory: a sampler thread reads, every 50 ms, the proportional set size (``Pss`` in
/proc/PID/smaps_rollup: shared pages split between the processes that map them) of this
process, of its PostgreSQL backend and of any parallel worker serving that backend, and
keeps the largest sum. It also reports each process's own peak resident size (``VmHWM``,
which counts PostgreSQL's shared buffers in full), an upper bound.

It empties the registry tables of its database, so it never uses DATABASE_URL: it takes
BENCH_DATABASE_URL, else a local ``fieldrecall_bench_detection`` database made by
scripts/ensure_db.sh.

Usage: python benchmarks/detection_scale.py [--size 1m|10m] [--units N] [--failures N]
       [--stations 500] [--days 365] [--sites N] [--batches 100] [--reuse]
The last line is JSON: {"units", "failures", "seconds", "sql_seconds", "stats_seconds",
"peak_memory_mb", "python_peak_rss_mb", "backend_peak_rss_mb", "target_seconds",
"target_memory_mb"}.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.memory import MemorySampler, proc_kb  # noqa: E402
from core.db import upgrade  # noqa: E402
from devices.importer import import_csv  # noqa: E402
from recall.detection.service import create_run, execute_run  # noqa: E402

AS_OF = date(2026, 2, 28)
COLD_BATCH = 7  # one batch fails mostly on days below COLD_THRESHOLD_C, so one run flags it
COLD_THRESHOLD_C = -10.0
# --size: units, failure reports, sites, and the targets of issue 13 (seconds, MB).
SIZES = {
    "1m": (1_000_000, 20_000, 20_000, 30.0, 4096.0),
    "10m": (10_000_000, 200_000, 200_000, 120.0, 4096.0),
}


def database_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [str(ROOT / "scripts" / "ensure_db.sh"), "fieldrecall_bench_detection"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()


def _csv(header: str, columns: list[np.ndarray]) -> bytes:
    """Vectorised CSV building: a Python f-string per row would dominate for a million rows."""
    rows = columns[0].astype(str)
    for col in columns[1:]:
        rows = np.char.add(np.char.add(rows, ","), col.astype(str))
    return (header + "\n" + "\n".join(rows.tolist()) + "\n").encode()


def _keys(prefix: str, ids: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(ids.astype(str), width))


def _fmt1(x: np.ndarray) -> np.ndarray:
    return np.char.mod("%.1f", np.round(x, 1) + 0.0)


def unit_chunks(n: int) -> list[tuple[int, int]]:
    """Ranges of 1/8, 1/8, 1/4 and 1/2 of the units: each chunk is at least as large as the
    table it goes into, so every one takes the importer's bulk path."""
    bounds = [0, n // 8, n // 4, n // 2, n]
    return [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]


def make_fleet(args: argparse.Namespace) -> tuple[dict[str, bytes], Iterator[bytes]]:
    """Partners, sites, batches, stations, weather and failures as CSV bytes, and the units
    as a generator of CSV chunks (10 million rows at once would need gigabytes of strings)."""
    rng = np.random.default_rng(args.seed)
    n_days, n_st, n_sites = args.days, args.stations, args.sites
    first_day = AS_OF - timedelta(days=n_days - 1)
    days = np.array([first_day + timedelta(days=i) for i in range(n_days)])

    # Stations on a grid-ish cover of the region, so nearly every site has one within 50 km.
    st_lat = rng.uniform(60.0, 69.0, n_st)
    st_lon = rng.uniform(21.0, 30.0, n_st)
    # Daily minimum: a seasonal curve colder in the north, a regional anomaly, local noise.
    doy = np.array([d.timetuple().tm_yday for d in days])
    seasonal = 4.0 + 12.0 * np.cos(2 * np.pi * (doy - 200) / 365.0)
    anomaly = np.zeros(n_days)
    shocks = rng.normal(0.0, 2.5, n_days)
    for t in range(1, n_days):
        anomaly[t] = 0.7 * anomaly[t - 1] + shocks[t]
    tmin = (
        seasonal[None, :]
        - 1.2 * (st_lat[:, None] - 60.0)
        + anomaly[None, :]
        + rng.normal(0.0, 1.5, (n_st, n_days))
    )
    tmax = tmin + rng.uniform(3.0, 9.0, (n_st, n_days))

    n_partners = max(1, n_sites // 100)
    site_lat = rng.uniform(60.0, 69.0, n_sites)
    site_lon = rng.uniform(21.0, 30.0, n_sites)
    # The nearest station in Python only to place the cold batch's failures on cold days.
    site_station = np.empty(n_sites, dtype=np.int64)
    for lo in range(0, n_sites, 10_000):
        dlat = np.radians(site_lat[lo : lo + 10_000, None] - st_lat[None, :])
        cos = np.cos(np.radians(site_lat[lo : lo + 10_000]))[:, None]
        dlon = np.radians(site_lon[lo : lo + 10_000, None] - st_lon[None, :]) * cos
        site_station[lo : lo + 10_000] = np.argmin(dlat**2 + dlon**2, axis=1)

    batch_of = rng.integers(0, args.batches, args.units).astype(np.int32)
    site_of = rng.integers(0, n_sites, args.units).astype(np.int32)
    install_offset = rng.integers(0, 60, args.units).astype(np.int16)  # the first two months
    install_days = np.array([(first_day + timedelta(days=i)).isoformat() for i in range(60)])

    # Failures: distinct units, then a share of repeat reports on already failed units.
    n_repeat = args.failures // 20
    failed_units = rng.choice(args.units, size=args.failures - n_repeat, replace=False)
    fail_day = np.empty(failed_units.size, dtype=np.int64)
    for j, u in enumerate(failed_units):
        lo = int(install_offset[u])
        if batch_of[u] == COLD_BATCH:
            cold = np.flatnonzero(tmin[site_station[site_of[u]], lo:] < COLD_THRESHOLD_C) + lo
            if cold.size:
                fail_day[j] = int(rng.choice(cold))
                continue
        fail_day[j] = int(rng.integers(lo, n_days))
    repeat_idx = rng.integers(0, failed_units.size, n_repeat)
    rep_units = np.concatenate([failed_units, failed_units[repeat_idx]])
    rep_days = np.concatenate(
        [fail_day, np.minimum(fail_day[repeat_idx] + rng.integers(1, 20, n_repeat), n_days - 1)]
    )
    hours = rng.integers(0, 24, rep_units.size)
    occurred = np.char.add(
        np.char.add(days[rep_days].astype(str), "T"),
        np.char.add(np.char.zfill(hours.astype(str), 2), ":00:00+02:00"),
    )

    partners = np.arange(n_partners)
    sites = np.arange(n_sites)
    batches = np.arange(args.batches)
    stations = np.arange(n_st)
    files = {
        "partners": _csv(
            "partner_key,name", [_keys("P", partners, 5), _keys("Partner ", partners, 5)]
        ),
        "sites": _csv(
            "site_key,partner_key,name,lat,lon,timezone",
            [
                _keys("S", sites, 6),
                _keys("P", sites % n_partners, 5),
                _keys("Site ", sites, 6),
                np.char.mod("%.5f", site_lat),
                np.char.mod("%.5f", site_lon),
                np.full(n_sites, "Europe/Helsinki"),
            ],
        ),
        "batches": _csv(
            "batch_key,model,manufactured_on",
            [
                _keys("B", batches, 4),
                np.full(args.batches, "OU-200"),
                np.full(args.batches, "2024-06-01"),
            ],
        ),
        "stations": _csv(
            "station_key,lat,lon",
            [_keys("WS", stations, 4), np.char.mod("%.5f", st_lat), np.char.mod("%.5f", st_lon)],
        ),
        "weather": _csv(
            "station_key,day,temp_min_c,temp_max_c",
            [
                np.repeat(_keys("WS", stations, 4), n_days),
                np.tile(days.astype(str), n_st),
                _fmt1(tmin.ravel()),
                _fmt1(tmax.ravel()),
            ],
        ),
        "failures": _csv(
            "report_key,serial,occurred_at,source",
            [
                _keys("R", np.arange(rep_units.size), 7),
                _keys("FR-", rep_units, 8),
                occurred,
                np.full(rep_units.size, "partner"),
            ],
        ),
    }

    def units() -> Iterator[bytes]:
        for lo, hi in unit_chunks(args.units):
            yield _csv(
                "serial,batch_key,site_key,installed_on",
                [
                    _keys("FR-", np.arange(lo, hi), 8),
                    _keys("B", batch_of[lo:hi], 4),
                    _keys("S", site_of[lo:hi], 6),
                    install_days[install_offset[lo:hi]],
                ],
            )

    return files, units()


def load(url: str, args: argparse.Namespace) -> None:
    """Empty the registry and load a generated fleet through the product's importer."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE signal, detection_result, detection_run, failure_report, unit, site,"
                " batch, partner, weather_observation, weather_station RESTART IDENTITY CASCADE"
            )
        )
    t0 = time.perf_counter()
    files, units = make_fleet(args)
    print(f"generated the fleet in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()

    def one(kind: str, data: bytes) -> None:
        with Session(engine) as session, session.begin():
            result = import_csv(session, kind, data, filename=f"{kind}.csv", actor="bench")
        print(f"  imported {kind}: {result.inserted:,} rows", flush=True)

    for kind in ("partners", "sites", "batches"):
        one(kind, files.pop(kind))
    for chunk in units:
        one("units", chunk)
    for kind in ("stations", "weather", "failures"):
        one(kind, files.pop(kind))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    print(f"loaded through the importer in {time.perf_counter() - t0:.1f} s", flush=True)


def _load_child(url: str, options: dict[str, object]) -> None:
    load(url, argparse.Namespace(**options))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="1m")
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--failures", type=int, default=None)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--sites", type=int, default=None)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="time another run on the fleet already loaded"
    )
    args = parser.parse_args()
    units, failures, sites, target_s, target_mb = SIZES[args.size]
    args.units = args.units or units
    args.failures = args.failures or failures
    args.sites = args.sites or sites

    url = database_url()
    upgrade(url)
    engine = create_engine(url)
    if args.reuse:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE signal, detection_result, detection_run CASCADE"))
            args.units = conn.scalar(text("SELECT count(*) FROM unit"))
            args.failures = conn.scalar(text("SELECT count(*) FROM failure_report"))
    else:
        # In a child process, so that the generated strings never count in this one's peak.
        child = multiprocessing.get_context("spawn").Process(
            target=_load_child, args=(url, vars(args))
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"loading the fleet failed (exit code {child.exitcode})")

    with Session(engine) as session, session.begin():
        backend = int(session.scalar(text("SELECT pg_backend_pid()")))
        sampler = MemorySampler(backend)
        sampler.start()
        start = time.perf_counter()
        run = create_run(session, actor="bench", as_of=AS_OF, enqueue=False)
        execute_run(session, run.id, actor="bench")
        summary = dict(run.summary or {})
        seconds = time.perf_counter() - start
        sampler.stop()
        backend_hwm = proc_kb(backend, "status", "VmHWM:") or 0
    python_hwm = proc_kb(os.getpid(), "status", "VmHWM:") or 0
    sql_s, stats_s = float(summary["sql_seconds"]), float(summary["stats_seconds"])
    peak_mb = sampler.peak_kb / 1024.0
    print(
        f"detection run on {args.units:,} units and {args.failures:,} failure reports: "
        f"{seconds:.2f} s (target <= {target_s:g} s); {summary['batches_tested']} batches "
        f"tested, flagged {summary['flagged']}"
    )
    print(f"  SQL aggregation   {sql_s:7.2f} s")
    for name, secs in summary.get("sql_timings", {}).items():
        print(f"    {name:<18} {secs:7.2f} s")
    print(f"  statistics        {stats_s:7.2f} s")
    print(f"  iceberg + storing {seconds - sql_s - stats_s:7.2f} s")
    print(
        f"  peak memory {peak_mb:.0f} MB (target <= {target_mb:g} MB): the largest sum of Pss "
        f"of this process, its PostgreSQL backend and its parallel workers; peak RSS "
        f"(VmHWM) of this process {python_hwm / 1024:.0f} MB and of the backend "
        f"{backend_hwm / 1024:.0f} MB (shared buffers counted in full)"
    )
    print(
        f"  sites without a station within reach: {len(summary['sites_without_station'])}; "
        f"failures without weather: {summary['failures_without_weather']}"
    )
    print(
        json.dumps(
            {
                "units": args.units,
                "failures": args.failures,
                "seconds": round(seconds, 2),
                "sql_seconds": round(sql_s, 2),
                "stats_seconds": round(stats_s, 2),
                "peak_memory_mb": round(peak_mb),
                "python_peak_rss_mb": round(python_hwm / 1024),
                "backend_peak_rss_mb": round(backend_hwm / 1024),
                "target_seconds": target_s,
                "target_memory_mb": target_mb,
            }
        )
    )


if __name__ == "__main__":
    main()
