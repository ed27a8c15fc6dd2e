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

With ``--api-mb 200`` it then imports a units file of that size through the API, as a
support lead uploads it: a server (``fieldrecall serve``) is started on the benchmark
database, the file is sent as a multipart upload, and the server's peak memory is read
from /proc (VmHWM) against its memory before the upload (target: it grows by less than
300 MB). The same rows are then sent again with CRLF line ends and as Excel writes them
under European locales (semicolons), each of which must change nothing.

Usage: python benchmarks/import_units.py [--units 1000000] [--sites 20000] [--batches 100]
       [--api-mb 200]
The last line is JSON: {"units", "units_per_s", "copy_units_per_s", "copy_ratio",
"peak_rss_mb"} and, with --api-mb, "api": {"file_mb", "units", "seconds",
"server_growth_mb", "crlf_unchanged", "semicolon_unchanged"}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.keys import create_key  # noqa: E402
from core.db import upgrade  # noqa: E402
from devices.importer import import_csv  # noqa: E402

FREE_PORT = 8765


def database_url(name: str = "fieldrecall_bench") -> str:
    """BENCH_DATABASE_URL, else the local database ``name`` (made when missing); never
    DATABASE_URL, since the benchmarks that call this empty its tables."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url
    script = ROOT / "scripts" / "ensure_db.sh"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [str(script), name], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


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


def write_units_file(path: Path, target_bytes: int, n_sites: int, n_batches: int) -> int:
    """Write a units file of about ``target_bytes`` in slices (LF line ends); returns the
    number of units."""
    rng = np.random.default_rng(7)
    written, units = 0, 0
    with path.open("wb") as out:
        header = b"serial,batch_key,site_key,installed_on,firmware\n"
        out.write(header)
        written += len(header)
        while written < target_bytes:
            n = 200_000
            serial = np.char.add("AP-", np.char.zfill(np.arange(units, units + n).astype(str), 9))
            rows = serial
            for col in (
                np.char.add("B", np.char.zfill(rng.integers(0, n_batches, n).astype(str), 4)),
                np.char.add("S", np.char.zfill(rng.integers(0, n_sites, n).astype(str), 6)),
                np.char.add("2025-04-", np.char.zfill(rng.integers(1, 28, n).astype(str), 2)),
                np.full(n, "2.0.1"),
            ):
                rows = np.char.add(np.char.add(rows, ","), col)
            block = ("\n".join(rows.tolist()) + "\n").encode()
            if written + len(block) > target_bytes:
                lines = block.split(b"\n")
                keep = max(1, (target_bytes - written) // (len(block) // n))
                block = b"\n".join(lines[:keep]) + b"\n"
                n = keep
            out.write(block)
            written += len(block)
            units += n
    return units


def rewrite(source: Path, target: Path, *, crlf: bool = False, semicolon: bool = False) -> None:
    with source.open("rb") as inp, target.open("wb") as out:
        for line in inp:
            if semicolon:
                line = line.replace(b",", b";")
            if crlf:
                line = line.replace(b"\n", b"\r\n")
            out.write(line)


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def api_import(url: str, engine: Any, workdir: Path, megabytes: int, args: Any) -> dict:
    """The --api-mb phase: a file of that size through a real server's upload route."""
    import httpx  # only this phase needs an HTTP client

    path = workdir / "units_api.csv"
    units = write_units_file(path, megabytes * 1_000_000, args.sites, args.batches)
    size_mb = path.stat().st_size / 1e6
    with Session(engine) as session, session.begin():
        lead = create_key(session, role="support_lead", label="bench")
    env = {**os.environ, "DATABASE_URL": url}
    exe = Path(sys.executable).with_name("fieldrecall")
    server = subprocess.Popen(
        [str(exe), "serve", "--port", str(FREE_PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{FREE_PORT}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        headers = {"X-API-Key": lead}
        httpx.get(f"{base}/api/v1/units?limit=1", headers=headers)  # warm up
        before_kb = memory_kb(server.pid, "VmRSS")

        def upload(file: Path) -> tuple[float, dict]:
            start = time.perf_counter()
            with file.open("rb") as stream:
                response = httpx.post(
                    f"{base}/api/v1/imports/units",
                    files={"file": (file.name, stream, "text/csv")},
                    headers=headers,
                    timeout=3600,
                )
            assert response.status_code == 200, response.text[:2000]
            return time.perf_counter() - start, response.json()

        seconds, first = upload(path)
        assert first["inserted"] == units, first
        peak_kb = memory_kb(server.pid, "VmHWM")
        crlf, semicolon = workdir / "units_crlf.csv", workdir / "units_semicolon.csv"
        rewrite(path, crlf, crlf=True)
        _, again_crlf = upload(crlf)
        crlf.unlink()
        rewrite(path, semicolon, semicolon=True)
        _, again_semicolon = upload(semicolon)
        semicolon.unlink()
        peak_kb = max(peak_kb, memory_kb(server.pid, "VmHWM"))
    finally:
        server.terminate()
        server.wait(timeout=60)
        path.unlink(missing_ok=True)
    growth_mb = (peak_kb - before_kb) / 1024
    print(
        f"API upload of {size_mb:.0f} MB ({units:,} units): {seconds:.1f} s; server memory"
        f" {before_kb / 1024:.0f} MB before,"
        f" peak {peak_kb / 1024:.0f} MB: grew by {growth_mb:.0f} MB (target < 300)"
    )
    print(f"CRLF variant: {again_crlf}")
    print(f"semicolon variant: {again_semicolon}")
    return {
        "file_mb": round(size_mb),
        "units": units,
        "seconds": round(seconds, 1),
        "server_growth_mb": round(growth_mb),
        "crlf_unchanged": again_crlf["unchanged"] == units and again_crlf["inserted"] == 0,
        "semicolon_unchanged": again_semicolon["unchanged"] == units
        and again_semicolon["inserted"] == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-mb", type=int, default=0, help="also a file this big via the API")
    args = parser.parse_args()

    url = database_url()
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
    figures: dict[str, Any] = {
        "units": args.units,
        "units_per_s": round(units_per_s),
        "copy_units_per_s": round(copy_per_s),
        "copy_ratio": round(units_per_s / copy_per_s, 3),
        "peak_rss_mb": round(peak_rss_mb),
    }
    if args.api_mb:
        with tempfile.TemporaryDirectory(prefix="fieldrecall-bench-") as workdir:
            figures["api"] = api_import(url, engine, Path(workdir), args.api_mb, args)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
