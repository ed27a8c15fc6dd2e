"""The engine tests' fixture: a quick, deterministic solver setting, once with
OR-Tools' own first solution and once with the engine's regret construction (read into
OR-Tools, then improved by guided local search), so every constraint test checks both."""

from __future__ import annotations

import dataclasses

import pytest

from routing.engine import REGRET_INSERTION, SolverOptions
from tests.routing.engine.line import FAST


@pytest.fixture(params=["ortools", "regret"])
def fast(request: pytest.FixtureRequest) -> SolverOptions:
    if request.param == "regret":
        return dataclasses.replace(FAST, first_solution=REGRET_INSERTION)
    return FAST
