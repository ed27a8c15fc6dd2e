"""The demo served with what runs beside it (``api.demo.services``): a real worker and the
local mail sink. On a smaller fleet than ``make demo``'s, so that the plan solves in
seconds: every partner's first notice reaches the sink, the ledger counts no visit as
"not told", a detection run started through the API finishes, and leaving the block
stops the worker and the sink."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.demo.run import run_demo
from api.demo.services import demo_services
from api.keys import create_key
from core.db import transaction
from recall.campaigns.ledger import campaign_ledger
from tests.recall.campaigns.fixtures import h
from tests.recall.notify.harness import free_port, wait_for
from tests.test_end_to_end import FLEET


def _everyone_told(engine: Engine, campaign_ids: list[int]) -> bool:
    with Session(engine) as session:
        for campaign_id in campaign_ids:
            ledger = campaign_ledger(session, campaign_id=campaign_id, partner_id=None)
            if ledger.visits_scheduled_not_told or ledger.promise_at_risk:
                return False
            if any(line.first_notified_at is None for line in ledger.partners):
                return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_demo_with_its_worker_and_mail_sink(committed: Engine, tmp_path: Path) -> None:
    url = committed.url.render_as_string(hide_password=False)
    with demo_services(tmp_path, database_url=url, smtp_port=free_port()) as services:
        report = run_demo(tmp_path, seed=7, spec=FLEET, plan_seconds=5)
        assert report.campaign_ids, report.lines
        wait_for(
            "every partner told, every scheduled visit's date delivered",
            lambda: _everyone_told(committed, report.campaign_ids),
            deadline_s=120,
            log=services.worker_log,
        )
        mail = sorted(services.mail_dir.glob("*.eml"))
        index = (services.mail_dir / "index.log").read_text().splitlines()
        assert mail and len(index) == len(mail)
        assert any("Recall:" in line for line in index)

        with transaction() as session:
            lead = create_key(session, role="support_lead")
        with TestClient(create_app()) as client:
            started = client.post(
                "/api/v1/detection/runs",
                json={"as_of": FLEET.season_end.isoformat()},
                headers=h(lead),
            )
            assert started.status_code == 202, started.text
            run_url = f"/api/v1/detection/runs/{started.json()['id']}"
            finished = wait_for(
                "the detection run to finish on the worker",
                lambda: (
                    (run := client.get(run_url, headers=h(lead)).json())["status"]
                    in ("done", "failed")
                    and run
                ),
                deadline_s=120,
                log=services.worker_log,
            )
        assert finished["status"] == "done", finished.get("error")
        children = (services.worker_pid, services.sink_pid)
        assert all(_alive(pid) for pid in children)
    assert not any(_alive(pid) for pid in children)  # both stopped with the block
