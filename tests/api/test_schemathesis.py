"""The API against its own OpenAPI document, with generated requests (schemathesis) to a
live server, once with a support lead's key and once with a partner's: no server error,
no answer outside the document (status, content type, body schema).

Bounded and repeatable: a fixed number of examples per operation, derandomized, on the
recall registry of the tests; everything is removed again afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from tests.browser import live_server
from tests.conftest import emptied_afterwards
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import load_recall_registry

EXAMPLES_PER_OPERATION = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_api(engine: Engine) -> Iterator[tuple[str, Keys]]:
    """One live server for the module, on its own connections (as in production), with
    the data committed and removed again at the end."""
    with emptied_afterwards(engine):
        with Session(engine) as session:
            keys = load_recall_registry(session)
        with live_server(create_app(sessionmaker(bind=engine, expire_on_commit=False))) as base:
            yield base, keys


def failures_with(base: str, api_key: str) -> list[str]:
    """Run every operation of the document with a fixed number of generated requests;
    returns what went wrong, one line per failing operation."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @SETTINGS
        def run(case: Any) -> None:
            case.call_and_validate(headers={"X-API-Key": api_key}, checks=CHECKS)

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


def test_the_api_keeps_to_its_document_for_a_support_lead(live_api: tuple[str, Keys]) -> None:
    base, keys = live_api
    assert failures_with(base, keys.lead) == []


def test_the_api_keeps_to_its_document_for_a_partner(live_api: tuple[str, Keys]) -> None:
    base, keys = live_api
    assert failures_with(base, keys.partner_a) == []
