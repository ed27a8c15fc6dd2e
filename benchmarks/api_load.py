"""API throughput on loopback: a partner's ``GET /api/v1/sites`` and ``POST
/api/v1/failures``, at 8 and 32 connections, against the same app's trivial endpoint that
returns the same JSON from memory, measured in the same run.

The server runs as README documents for production (uvicorn with several worker processes,
as ``fieldrecall serve --workers N`` runs it), on a benchmark database seeded with 50
partners, 2,000 sites and 20,000 units; the partner's key sees its 40 sites. The trivial
endpoints are added to the same app (same middleware) by this module's factory, and
answer with the bytes the real endpoints gave. The load comes from a small keep-alive
HTTP/1.1 client on asyncio (one process), each connection sending its next request when
the previous answer is in. Each measurement lasts ``--seconds``.

It empties the registry tables of its database, so it never uses DATABASE_URL: it takes
BENCH_DATABASE_URL, else a local ``fieldrecall_bench`` database (scripts/ensure_db.sh).

Usage: python benchmarks/api_load.py [--seconds 8] [--workers 4]
Targets: ratio to the trivial endpoint >= 0.5 and p99 <= 300 ms at 32 connections.
The last line is JSON: {"workers", "seconds", "results": {"<endpoint>@<connections>":
{"rps", "p50_ms", "p99_ms", "trivial_rps", "ratio"}}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from import_units import database_url  # noqa: E402  (the benchmarks' database, made alike)

STATIC_DIR = "BENCH_API_LOAD_STATIC_DIR"


def create_bench_app() -> Any:
    """The product's app plus trivial endpoints answering stored bytes from memory
    (uvicorn's factory, in every worker process)."""
    from fastapi import Response

    from api.app import create_app

    app = create_app()
    cache: dict[str, bytes] = {}

    def stored(name: str) -> Response:
        if name not in cache:
            cache[name] = (Path(os.environ[STATIC_DIR]) / f"{name}.json").read_bytes()
        return Response(cache[name], media_type="application/json")

    @app.get("/bench/static/{name}", include_in_schema=False)
    def static_get(name: str) -> Response:
        return stored(name)

    @app.post("/bench/static/{name}", include_in_schema=False)
    def static_post(name: str) -> Response:
        return stored(name)

    return app


def seed(url: str) -> tuple[str, list[str]]:
    """A registry of 50 partners, 2,000 sites, 20,000 units; the first partner's key and
    its serials."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from api.keys import create_key
    from core.db import upgrade
    from devices.importer import import_csv

    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE failure_report, unit, site, batch, partner, api_key, idempotent_request"
                " RESTART IDENTITY CASCADE"
            )
        )
    partners = "partner_key,name,contact_email\n" + "".join(
        f"P{i:03d},Partner {i},ops{i}@p.example\n" for i in range(50)
    )
    sites = "site_key,partner_key,name,address,lat,lon,timezone,opening_hours\n" + "".join(
        f"S{i:05d},P{i % 50:03d},Site {i},Street {i},{60 + i % 90 / 10:.3f},{20 + i % 97 / 10:.3f},"
        "Europe/Helsinki,Mo-Fr 08:00-17:00\n"
        for i in range(2000)
    )
    batches = "batch_key,model,manufactured_on\nB1,OU-200,2025-01-01\nB2,GW-10,2025-01-01\n"
    units = "serial,batch_key,site_key,installed_on\n" + "".join(
        f"U{i:06d},B{1 + i % 2},S{i % 2000:05d},2025-03-01\n" for i in range(20000)
    )
    with Session(engine) as session, session.begin():
        for kind, body in (
            ("partners", partners),
            ("sites", sites),
            ("batches", batches),
            ("units", units),
        ):
            import_csv(session, kind, body.encode(), filename=f"{kind}.csv", actor="bench")
        key = create_key(session, role="partner", partner_key="P000", label="bench")
    serials = [f"U{i:06d}" for i in range(20000) if (i % 2000) % 50 == 0]
    engine.dispose()
    return key, serials


class Client:
    """Minimal keep-alive HTTP/1.1 over asyncio streams: cheap enough that one process can
    load a multi-process server on the same machine."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    @staticmethod
    async def request(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
    ) -> tuple[int, bytes]:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        body = await reader.readexactly(length) if length else b""
        return status, body


def request_bytes(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"X-API-Key: {key}",
        "Connection: keep-alive",
    ]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def load(
    client: Client, make: Any, connections: int, seconds: float
) -> tuple[float, list[float], int]:
    """Requests per second, latencies (s) and errors with ``connections`` busy loops."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def loop() -> None:
        nonlocal errors
        reader, writer = await client.connect()
        try:
            while time.perf_counter() < deadline:
                raw = make(next(counter))
                start = time.perf_counter()
                status, _ = await client.request(reader, writer, raw)
                latencies.append(time.perf_counter() - start)
                if status >= 400:
                    errors += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, errors


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    url = database_url()
    key, serials = seed(url)
    static_dir = tempfile.mkdtemp(prefix="fieldrecall-api-load-")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        STATIC_DIR: static_dir,
        "PYTHONPATH": str(ROOT),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api_load:create_bench_app",
            "--factory",
            "--app-dir",
            str(ROOT / "benchmarks"),
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    client = Client("127.0.0.1", args.port)
    run_id = int(time.time())

    def sites(_: int) -> bytes:
        return request_bytes("GET", "/api/v1/sites", key)

    def failure(n: int) -> bytes:
        body = json.dumps(
            {
                "report_key": f"L{run_id}-{n}",
                "serial": serials[n % len(serials)],
                "occurred_at": "2025-11-10T10:00:00+02:00",
                "symptom": "no boot",
            }
        ).encode()
        return request_bytes("POST", "/api/v1/failures", key, body)

    def static(name: str, method: str) -> Any:
        body = b"{}" if method == "POST" else b""
        raw = request_bytes(method, f"/bench/static/{name}", key, body)
        return lambda _: raw

    async def run() -> dict[str, Any]:
        for _ in range(300):
            try:
                reader, writer = await client.connect()
                break
            except OSError:
                await asyncio.sleep(0.1)
        _, sites_json = await client.request(reader, writer, sites(0))
        _, failure_json = await client.request(reader, writer, failure(10**8))
        writer.close()
        Path(static_dir, "sites.json").write_bytes(sites_json)
        Path(static_dir, "failures.json").write_bytes(failure_json)
        assert json.loads(sites_json)["total"] == 40, sites_json[:200]
        # Warm every worker process (imports, pools, caches).
        await load(client, sites, 16, 2.0)
        await load(client, static("sites", "GET"), 16, 1.0)
        results: dict[str, Any] = {}
        for connections in (8, 32):
            for name, real, trivial in (
                ("GET /api/v1/sites", sites, static("sites", "GET")),
                ("POST /api/v1/failures", failure, static("failures", "POST")),
            ):
                rps, latencies, errors = await load(client, real, connections, args.seconds)
                trivial_rps, _, _ = await load(client, trivial, connections, args.seconds)
                entry = {
                    "rps": round(rps, 1),
                    "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                    "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                    "errors": errors,
                    "trivial_rps": round(trivial_rps, 1),
                    "ratio": round(rps / trivial_rps, 3),
                }
                results[f"{name}@{connections}"] = entry
                print(
                    f"{name:<24} {connections:>2} connections: {rps:8.1f} req/s, p50"
                    f" {entry['p50_ms']:6.1f} ms, p99 {entry['p99_ms']:6.1f} ms, errors"
                    f" {errors}; trivial {trivial_rps:8.1f} req/s; ratio {entry['ratio']:.2f}",
                    flush=True,
                )
        return results

    try:
        results = asyncio.run(run())
    finally:
        server.terminate()
        server.wait(timeout=60)
    print("targets at 32 connections: ratio >= 0.5, p99 <= 300 ms")
    print(json.dumps({"workers": args.workers, "seconds": args.seconds, "results": results}))


if __name__ == "__main__":
    main()
