"""Recall's worker tasks and the paths that commit on their own connections: a detection run
started over the API and executed by a real Procrastinate worker, ``fieldrecall detect
--json``, the demo job, and the periodic re-evaluation of active recalls on a running
worker. Each test commits for real; the ``committed`` fixture empties the database
afterwards."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.app import create_app
from api.cli.main import app as cli
from api.demo.run import describe, run_demo
from api.demo.scenario import DemoSpec, DemoSummary, generate
from api.keys import create_key
from core.db import transaction
from devices.importer import import_csv, import_directory
from recall.campaigns import service as campaigns
from recall.campaigns.schemas import CampaignIn
from recall.detection.evidence import REQUIRED_JSON_KEYS
from tests.recall.campaigns.fixtures import campaign_body, load_recall_registry
from tests.recall.detection.test_service import AS_OF, SMALL
from tests.recall.detection.truth import rate_coverage
from tests.recall.notify.harness import start_worker, wait_for


def _load_small_fleet(directory: Path) -> tuple[DemoSummary, str]:
    summary = generate(directory, SMALL)
    with transaction() as session:
        import_directory(session, directory)
        key = create_key(session, role="support_lead", label="tests")
    return summary, key


def test_a_run_started_over_the_api_is_executed_by_a_real_worker(
    committed: Engine, tmp_path: Path
) -> None:
    fleet, key = _load_small_fleet(tmp_path)
    headers = {"X-API-Key": key}
    with TestClient(create_app()) as client:
        response = client.post(
            "/api/v1/detection/runs", json={"as_of": AS_OF.isoformat()}, headers=headers
        )
        assert response.status_code == 202, response.text
        run_id = response.json()["id"]
        # Nothing runs in the request: the run waits for a worker.
        queued = client.get(f"/api/v1/detection/runs/{run_id}", headers=headers).json()
        assert queued["status"] == "queued" and queued["results"] == []

        result = CliRunner().invoke(cli, ["worker", "--once"])
        assert result.exit_code == 0, result.output

        done = client.get(f"/api/v1/detection/runs/{run_id}", headers=headers).json()
        assert done["status"] == "done", done
        assert done["started_at"] and done["finished_at"] and done["error"] is None
        assert done["summary"]["flagged"] == [fleet.cold_batch]
        assert {r["batch_key"] for r in done["results"] if r["flagged"]} == {fleet.cold_batch}
        signals = client.get("/api/v1/signals", headers=headers).json()
        assert [(s["batch_key"], s["first_run_id"], s["status"]) for s in signals] == [
            (fleet.cold_batch, run_id, "new")
        ]
        assert signals[0]["status_changed_by"] == "worker"
    with committed.connect() as conn:
        jobs = conn.execute(
            text(
                "SELECT args, status FROM procrastinate_jobs"
                " WHERE task_name = 'recall.run_detection'"
            )
        ).all()
    assert [tuple(j) for j in jobs] == [({"run_id": run_id}, "succeeded")]


def test_detect_json_prints_every_batch_with_a_failure(committed: Engine, tmp_path: Path) -> None:
    fleet, _ = _load_small_fleet(tmp_path / "fleet")
    with transaction() as session:
        import_csv(session, "sites", b"site_key,partner_key,name,lat,lon\nFAR1,P0001,F,45,10\n")
        import_csv(session, "units", b"serial,batch_key,site_key\nFAR-U1,B2025-02,FAR1\n")
    result = CliRunner().invoke(cli, ["detect", "--as-of", AS_OF.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)  # the notes go to stderr
    assert "1 sites have no weather station within 50 km (1 units left out): FAR1" in (
        result.stderr
    )
    with committed.connect() as conn:
        failing = set(
            conn.scalars(
                text(
                    "SELECT DISTINCT b.batch_key FROM failure_report f"
                    " JOIN unit u ON u.id = f.unit_id JOIN batch b ON b.id = u.batch_id"
                )
            )
        )
    assert {r["batch_key"] for r in results} == failing
    for r in results:
        assert set(REQUIRED_JSON_KEYS) <= set(r)
        assert "week" not in json.dumps(r)  # dates, never week indexes
    assert [r["batch_key"] for r in results if r["flagged"]] == [fleet.cold_batch]

    text_run = CliRunner().invoke(cli, ["detect", "--as-of", AS_OF.isoformat()])
    assert text_run.exit_code == 0, text_run.output
    assert f"flagged: {fleet.cold_batch}" in text_run.stdout
    assert "iceberg:" in text_run.stdout

    refused = CliRunner().invoke(cli, ["detect", "--as-of", "2026-02-28", "--since", "2026-03-01"])
    assert refused.exit_code == 2 and "after the as-of date" in refused.output


def test_demo_job_flags_the_cold_batch_and_neither_the_decoy_nor_the_cold_installed(
    committed: Engine, tmp_path: Path
) -> None:
    """The demo scenario exactly as ``make demo`` runs it (seed 7, default sizes)."""
    report = run_demo(tmp_path / "demo", seed=7)
    truth = report.summary
    assert report.flagged_batches == [truth.cold_batch]
    assert truth.decoy_batch not in report.flagged_batches
    assert truth.cold_installed_batch not in report.flagged_batches
    with committed.connect() as conn:
        results = {
            key: (flagged, threshold)
            for key, flagged, threshold in conn.execute(
                text(
                    "SELECT b.batch_key, r.flagged, r.threshold_c FROM detection_result r"
                    " JOIN batch b ON b.id = r.batch_id WHERE r.run_id = :run"
                ),
                {"run": report.detection_run_id},
            )
        }
    # Both decoys have failures, so they were tested (and not flagged).
    assert results[truth.decoy_batch][0] is False
    assert results[truth.cold_installed_batch][0] is False
    assert abs(results[truth.cold_batch][1] - truth.cold_threshold_c) <= 2
    # The evidence of the flagged batch recovers the generator's truth: the true daily rate
    # lies inside the exact 95 % interval in at least 90 % of the bins with 200 or more
    # unit-days, and the 30-day failure probability falls as it gets warmer.
    with committed.connect() as conn:
        cold = conn.scalar(
            text(
                "SELECT r.result FROM detection_result r JOIN batch b ON b.id = r.batch_id"
                " WHERE r.run_id = :run AND b.batch_key = :b"
            ),
            {"run": report.detection_run_id, "b": truth.cold_batch},
        )
    n_bins, inside = rate_coverage(cold, truth)
    assert n_bins >= 20 and inside >= 0.9 * n_bins, (n_bins, inside)
    probabilities = [p["probability"] for p in cold["rates"]["model"]["curve"]]
    assert all(a > b for a, b in itertools.pairwise(probabilities))
    assert cold["evidence_first_held_on"] <= cold["alarm_on"] <= DemoSpec().season_end.isoformat()
    shown = describe(report, "http://127.0.0.1:8000")
    assert f"flagged: {truth.cold_batch}" in shown
    assert f"FLAGGED {truth.cold_batch}" in shown and "iceberg:" in shown
    assert DemoSpec().season_end.isoformat() in shown


def test_a_running_worker_reevaluates_every_active_recall_on_its_schedule(
    committed: Engine, tmp_path: Path
) -> None:
    """The periodic task itself, on a real worker: a unit imported after the declaration
    joins its recall without anyone asking (the schedule is every second here)."""
    with Session(committed) as session:
        load_recall_registry(session)  # commits
        for batch in ("B1", "B2"):
            spec = CampaignIn.model_validate(campaign_body(batch_keys=[batch]))
            campaigns.declare(session, spec=spec, actor="test")
        import_csv(
            session,
            "units",
            b"serial,batch_key,site_key,installed_on\nUA9,B2,SA3,2025-10-01\n",
            filename="units.csv",
        )
        session.commit()

    def joined() -> list[tuple[str, str]]:
        with committed.connect() as conn:
            return [
                tuple(row)
                for row in conn.execute(
                    text(
                        "SELECT c.scope ->> 'batch_keys', e.actor FROM campaign_unit cu"
                        " JOIN unit u ON u.id = cu.unit_id"
                        " JOIN recall_campaign c ON c.id = cu.campaign_id"
                        " JOIN event e ON e.entity = 'campaign_unit'"
                        "  AND e.entity_key = cu.campaign_id || ':' || u.serial"
                        " WHERE u.serial = 'UA9'"
                    )
                )
            ]

    assert joined() == []
    log = tmp_path / "worker.log"
    worker = start_worker(committed, log, {"reevaluate_cron": "* * * * * *"})
    try:
        rows = wait_for("UA9 to join the B2 recall", joined, log=log)
    finally:
        worker.stop()
    assert rows == [('["B2"]', "scheduler")]
    with committed.connect() as conn:
        runs = conn.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs"
                " WHERE task_name = 'recall.reevaluate_campaigns' AND status = 'succeeded'"
            )
        )
    assert runs >= 1
