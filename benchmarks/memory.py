"""Peak memory of a benchmark together with its PostgreSQL backend (Linux /proc).

``MemorySampler`` reads, every 50 ms, the proportional set size (``Pss`` in
/proc/PID/smaps_rollup: shared pages are split between the processes that map them) of
this process, of one PostgreSQL backend and of any parallel worker serving that backend,
and keeps the largest sum. Where smaps cannot be read, a process's VmRSS stands in.
"""

from __future__ import annotations

import os
import threading


class MemorySampler(threading.Thread):
    """Largest sum of Pss over this process, its PostgreSQL backend and that backend's
    parallel workers, sampled every 50 ms."""

    def __init__(self, backend_pid: int) -> None:
        super().__init__(daemon=True)
        self.backend_pid = backend_pid
        self.peak_kb = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            pids = [os.getpid(), self.backend_pid, *self._parallel_workers()]
            self.peak_kb = max(self.peak_kb, sum(pss_kb(pid) for pid in pids))
            self._halt.wait(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def _parallel_workers(self) -> list[int]:
        needle = f"parallel worker for PID {self.backend_pid}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as fh:
                        if needle in fh.read():
                            found.append(int(entry))
                except OSError:
                    continue
        return found


def proc_kb(pid: int, file: str, key: str) -> int | None:
    """A "Key:  N kB" line of /proc/PID/FILE, in kB (None when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/{file}") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def pss_kb(pid: int) -> int:
    """Proportional set size of a process in kB (its VmRSS when smaps is not readable)."""
    pss = proc_kb(pid, "smaps_rollup", "Pss:")
    return pss if pss is not None else (proc_kb(pid, "status", "VmRSS:") or 0)
