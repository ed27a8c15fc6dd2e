"""A PostgreSQL cluster of its own for a test that restarts or stops the server: made with
initdb in a temporary directory on a free port, migrated, and removed afterwards, so the
shared cluster (and whoever else uses it) is never disturbed. Runs the server as the
``postgres`` user when the tests run as root (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.db import upgrade
from tests.recall.notify.harness import free_port


def _bindir() -> Path:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[4])
    )
    if not versions:
        raise AssertionError("no PostgreSQL server installed under /usr/lib/postgresql")
    return versions[-1].parent


@dataclass
class Cluster:
    bindir: Path
    datadir: Path
    port: int
    owner: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://fieldrecall:fieldrecall@127.0.0.1:{self.port}/fieldrecall"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.owner, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1"
        self._ctl("-l", str(self.datadir / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """What an operator's restart does: every connection is closed, then the server
        comes back on the same port."""
        self.stop()
        self.start()


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A started, migrated cluster with the ``fieldrecall`` role and database."""
    bindir = _bindir()
    datadir = Path(tempfile.mkdtemp(prefix="fieldrecall-pg-"))
    owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if owner:
        shutil.chown(datadir, "postgres", "postgres")
    cluster = Cluster(bindir=bindir, datadir=datadir, port=free_port(), owner=owner)
    try:
        subprocess.run(
            [
                *owner,
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--auth=trust",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        cluster.start()
        for sql in (
            "CREATE ROLE fieldrecall LOGIN SUPERUSER PASSWORD 'fieldrecall'",
            "CREATE DATABASE fieldrecall OWNER fieldrecall",
        ):
            subprocess.run(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(cluster.port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    sql,
                ],
                check=True,
                capture_output=True,
            )
        upgrade(cluster.url)
        yield cluster
    finally:
        subprocess.run(
            [*owner, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(datadir, ignore_errors=True)
