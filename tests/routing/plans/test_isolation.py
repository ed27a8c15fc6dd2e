"""The solver's child process: a child that dies during a call is replaced and the call
made once more; a second death reaches the caller."""

from __future__ import annotations

import os
import signal
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from routing.plans.isolation import isolated


def die_once(marker: str) -> int:
    """Kill this (child) process the first time, as OR-Tools' abort would; then answer."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def always_die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_child_that_dies_is_replaced_and_the_call_made_again(tmp_path: Path):
    marker = tmp_path / "died"
    pid = isolated(die_once, str(marker))
    assert marker.read_text() == "died"
    assert pid != os.getpid()
    # The new child stays for the next call.
    assert isolated(die_once, str(marker)) == pid


def test_a_call_that_kills_its_child_twice_fails(tmp_path: Path):
    with pytest.raises(BrokenProcessPool):
        isolated(always_die)
    # And the next call gets a working child again.
    assert isolated(die_once, str(tmp_path / "x")) != os.getpid()
