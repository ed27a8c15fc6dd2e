"""The engine tests' fixture: a quick, deterministic solver setting."""

from __future__ import annotations

import pytest

from routing.engine import SolverOptions
from tests.routing.engine.line import FAST


@pytest.fixture
def fast() -> SolverOptions:
    return FAST
