"""Import speed: 1,000,000 units through the product's importer versus a bare COPY.

Generates partners, sites, batches and units as CSV, imports the first three, then times
``import_csv(..., "units", ...)`` (COPY to staging, set-based validation, upsert with every
foreign key checked; a file at least as large as the table drops its secondary indexes and
unique keys and rebuilds them once, see devices/bulk_load.py) and, in the same run, a bare
``COPY`` of the same file into an unindexed table of text columns. It also times a
re-import of the same file and a tenth as many new units appended to the loaded table,
which take the incremental path. It empties the registry tables of its database, so it
never uses DATABASE_URL: it takes BENCH_DATABASE_URL, else a local ``fieldrecall_bench``
database made by scripts/ensure_db.sh.

Usage: python benchmarks/import_units.py [--units 1000000] [--sites 20000] [--batches 100]
The last line is JSON: {"units", "units_per_s", "copy_units_per_s", "copy_ratio", "peak_rss_mb"}.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_database import bench_database_url  # noqa: E402
from core.db import upgrade  # noqa: E402
from devices.importer import import_csv  # noqa: E402


def make_files(n_units: int, n_sites: int, n_batches: int, seed: int) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    n_partners = max(1, n_sites // 100)
    partners = "partner_key,name,contact_email\n" + "".join(
        f"P{i:05d},Partner {i},ops{i}@p.example\n" for i in range(n_partners)
    )
    lat = rng.uniform(60, 69, n_sites)
    lon = rng.uniform(20, 30, n_sites)
    sites = "site_key,partner_key,name,lat,lon,timezone,opening_hours\n" + "".join(
        f"S{i:06d},P{i % n_partners:05d},Site {i},{lat[i]:.5f},{lon[i]:.5f},Europe/Helsinki,"
        "Mo-Fr 08:00-17:00\n"
        for i in range(n_sites)
    )
    batches = "batch_key,model,hardware_rev,manufactured_on\n" + "".join(
        f"B{i:04d},OU-{200 + i % 3 * 100},A,2024-{1 + i % 12:02d}-01\n" for i in range(n_batches)
    )
    site_of = rng.integers(0, n_sites, n_units)
    batch_of = rng.integers(0, n_batches, n_units)
    day_of = rng.integers(1, 28, n_units)
    # Vectorised string building: a Python f-string per row would dominate the run.
    serial = np.char.add("FR-", np.char.zfill(np.arange(n_units).astype(str), 8))
    columns = [
        serial,
        np.char.add("B", np.char.zfill(batch_of.astype(str), 4)),
        np.char.add("S", np.char.zfill(site_of.astype(str), 6)),
        np.char.add("2025-03-", np.char.zfill(day_of.astype(str), 2)),
        np.full(n_units, "1.4.2"),
    ]
    rows = columns[0]
    for col in columns[1:]:
        rows = np.char.add(np.char.add(rows, ","), col)
    units = "serial,batch_key,site_key,installed_on,firmware\n" + "\n".join(rows.tolist()) + "\n"
    return {
        "partners": partners.encode(),
        "sites": sites.encode(),
        "batches": batches.encode(),
        "units": units.encode(),
    }


def bare_copy_seconds(url: str, data: bytes) -> float:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_bare_copy")
        cur.execute(
            "CREATE TABLE bench_bare_copy (serial text, batch_key text, site_key text,"
            " installed_on text, firmware text)"
        )
        conn.commit()
        start = time.perf_counter()
        with cur.copy("COPY bench_bare_copy FROM STDIN (FORMAT csv, HEADER true)") as copy:
            for offset in range(0, len(data), 1 << 20):
                copy.write(data[offset : offset + (1 << 20)])
        conn.commit()
        seconds = time.perf_counter() - start
        cur.execute("DROP TABLE bench_bare_copy")
        conn.commit()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    url = bench_database_url("fieldrecall_bench")
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE failure_report, unit, site, batch, partner, api_key RESTART IDENTITY"
                " CASCADE"
            )
        )
    t0 = time.perf_counter()
    files = make_files(args.units, args.sites, args.batches, args.seed)
    print(
        f"generated {args.units:,} units in {time.perf_counter() - t0:.1f} s "
        f"({len(files['units']) / 1e6:.0f} MB of CSV)"
    )
    with Session(engine) as session, session.begin():
        for kind in ("partners", "sites", "batches"):
            import_csv(session, kind, files[kind], filename=f"{kind}.csv", actor="bench")

    start = time.perf_counter()
    with Session(engine) as session, session.begin():
        result = import_csv(session, "units", files["units"], filename="units.csv", actor="bench")
    seconds = time.perf_counter() - start
    assert result.inserted == args.units, result

    start = time.perf_counter()
    with Session(engine) as session, session.begin():
        again = import_csv(session, "units", files["units"], filename="units.csv", actor="bench")
    reimport_seconds = time.perf_counter() - start
    assert again.inserted == 0 and again.updated == 0, again

    # A file much smaller than the table takes the incremental path (indexes updated row by
    # row): shown for comparison, not part of the headline figures.
    append_units = max(1, args.units // 10)
    lines = files["units"].split(b"\n")
    appended = (b"\n".join(lines[: append_units + 1]) + b"\n").replace(b"FR-", b"FX-")
    start = time.perf_counter()
    with Session(engine) as session, session.begin():
        more = import_csv(session, "units", appended, filename="more_units.csv", actor="bench")
    append_seconds = time.perf_counter() - start
    assert more.inserted == append_units, more

    copy_seconds = bare_copy_seconds(url, files["units"])
    units_per_s = args.units / seconds
    copy_per_s = args.units / copy_seconds
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"product import: {seconds:.2f} s, {units_per_s:,.0f} units/s (target >= 100,000)")
    print(f"re-import of the same file (no changes): {reimport_seconds:.2f} s")
    print(
        f"{append_units:,} new units into the {args.units:,}-unit table: {append_seconds:.2f} s,"
        f" {append_units / append_seconds:,.0f} units/s (incremental path)"
    )
    print(f"bare COPY into an unindexed table: {copy_seconds:.2f} s, {copy_per_s:,.0f} units/s")
    print(f"ratio product/COPY: {units_per_s / copy_per_s:.2f} (target >= 0.3)")
    print(f"peak RSS of this process: {peak_rss_mb:.0f} MB (the database server is separate)")
    print(
        json.dumps(
            {
                "units": args.units,
                "units_per_s": round(units_per_s),
                "copy_units_per_s": round(copy_per_s),
                "copy_ratio": round(units_per_s / copy_per_s, 3),
                "peak_rss_mb": round(peak_rss_mb),
            }
        )
    )


if __name__ == "__main__":
    main()
