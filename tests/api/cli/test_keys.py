"""`fieldrecall keys list|revoke`: keys are listed by id and first characters (never the
key), and a revoked key answers 401 at once."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.app import create_app
from api.cli.main import app as cli
from tests.fixtures import load_registry


def test_keys_are_listed_and_revoked_one_by_one(committed: Engine) -> None:
    with Session(committed) as session:
        keys = load_registry(session)
        session.commit()
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).output)
    assert [(k["role"], k["bound_to"]) for k in listed] == [
        ("support_lead", None),
        ("partner", "partner:PA"),
        ("partner", "partner:PB"),
        ("technician", "technician:T1"),
    ]
    text = runner.invoke(cli, ["keys", "list"]).output
    assert keys.partner_a[:10] in text and keys.partner_a not in text

    partner_a = listed[1]
    revoked = runner.invoke(cli, ["keys", "revoke", partner_a["prefix"]])
    assert revoked.exit_code == 0 and f"revoked key {partner_a['id']}" in revoked.output
    with TestClient(create_app()) as client:
        assert client.get("/api/v1/sites", headers={"X-API-Key": keys.partner_a}).status_code == 401
        assert client.get("/api/v1/sites", headers={"X-API-Key": keys.partner_b}).status_code == 200
    still = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).output)
    assert [k["id"] for k in still] == [listed[0]["id"], listed[2]["id"], listed[3]["id"]]
    everything = json.loads(runner.invoke(cli, ["keys", "list", "--all", "--json"]).output)
    assert len(everything) == 4
    unknown = runner.invoke(cli, ["keys", "revoke", "99999"])
    assert unknown.exit_code == 2
