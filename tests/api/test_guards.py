"""What every request passes before a route runs (api/guards.py): no control character
in its path or query, a body within its limit (checked before authentication does any
work), authentication before a byte of the body is read; and ids that fit the database."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import get_settings
from tests.fixtures import Keys, load_registry


def call(app: FastAPI, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any, int]:
    """Send a request straight to the ASGI app with a body that is never needed; returns
    the status, the JSON answer and how many times the app read the body."""
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "app": app,
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), reads


def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(
    sessions: sessionmaker[Session],
) -> None:
    app = create_app(sessions)
    gigabyte = {"content-type": "text/csv", "content-length": str(150 * 1024 * 1024)}
    status, answer, reads = call(app, "POST", "/api/v1/imports/units", gigabyte)
    assert (status, answer["error"], reads) == (401, "Unauthorized", 0)
    wrong_key = {**gigabyte, "x-api-key": "fr_not_a_key"}
    status, answer, reads = call(app, "POST", "/api/v1/imports/units", wrong_key)
    assert (status, reads) == (401, 0)


def test_a_body_over_the_limit_is_refused_before_authentication_does_any_work(
    sessions: sessionmaker[Session],
) -> None:
    app = create_app(sessions)

    def no_database() -> Session:
        raise AssertionError("authentication ran for a body over the limit")

    app.state.session_factory = no_database
    limit = get_settings().max_upload_bytes
    big = {"content-length": str(limit + 1), "x-api-key": "fr_anything"}
    status, answer, reads = call(app, "POST", "/api/v1/imports/units", big)
    assert (status, answer["error"], reads) == (413, "PayloadTooLarge", 0)
    json_limit = get_settings().max_json_bytes
    big_json = {"content-length": str(json_limit + 1), "content-type": "application/json"}
    status, _, reads = call(app, "POST", "/api/v1/failures", big_json)
    assert (status, reads) == (413, 0)


def test_a_chunked_body_is_cut_off_at_the_limit(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys: Keys = load_registry(session)
    monkeypatch.setattr(get_settings(), "max_json_bytes", 1000)

    def chunks():  # no Content-Length: sent chunked
        for _ in range(20):
            yield b"[" + b" " * 200

    response = client.post(
        "/api/v1/failures",
        content=chunks(),
        headers={"X-API-Key": keys.partner_a, "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["error"] == "PayloadTooLarge"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/units?serial=UA1%00",
        "/api/v1/units?serial=UA%0A1",
        "/api/v1/sites?partner=P%1BA",
        "/api/v1/units/UA%0D1",
        "/api/v1/failures?serial%00=x",
    ],
)
def test_control_characters_in_the_url_are_a_422(
    client: TestClient, session: Session, url: str
) -> None:
    keys = load_registry(session)
    response = client.get(url, headers={"X-API-Key": keys.lead})
    assert response.status_code == 422, response.text
    assert "control character" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/campaigns/99999999999999999999",
        "/api/v1/campaigns/2147483648/ledger",
        "/api/v1/visits/9223372036854775808",
        "/api/v1/outbox/0",
        "/api/v1/plans/-1",
    ],
)
def test_ids_beyond_the_database_are_a_422(client: TestClient, session: Session, path: str) -> None:
    keys = load_registry(session)
    response = client.get(path, headers={"X-API-Key": keys.lead})
    assert response.status_code == 422, response.text


def test_a_huge_id_in_a_body_is_a_422(client: TestClient, session: Session) -> None:
    keys = load_registry(session)
    body = {
        "title": "t",
        "remedy": "r",
        "scope": {"batch_keys": ["B1"]},
        "signal_id": 2**70,
    }
    response = client.post("/api/v1/campaigns/dry-run", json=body, headers={"X-API-Key": keys.lead})
    assert response.status_code == 422 and "signal_id" in response.text


def test_secret_links_never_reach_the_access_log(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    create_app(sessions)
    token = "lnk_12_" + "A" * 43
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/p/{token}", "1.1", 200
        )
    [record] = caplog.records
    assert token not in record.getMessage() and "/p/lnk_[redacted]" in record.getMessage()
