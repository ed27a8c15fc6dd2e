"""Detection runs, results, signals and the iceberg, on a small demo fleet in real PostGIS
(each test rolled back). The worker and the CLI, which commit, are in test_detection_jobs."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.demo.scenario import DemoSpec, DemoSummary, generate
from api.keys import create_key
from core.errors import Conflict, InvalidInput
from devices.importer import import_csv, import_directory
from recall.campaigns.schemas import CampaignIn, Scope
from recall.campaigns.service import declare
from recall.detection.evidence import REQUIRED_JSON_KEYS
from recall.detection.repository import run_results
from recall.detection.service import change_signal_status, create_run, execute_run
from recall.models import Campaign, DetectionRun
from tests.recall.detection.truth import rate_coverage

# Small enough to load and detect in about a second; seed 7 flags only its cold batch.
SMALL = DemoSpec(
    seed=7, partners=8, sites=90, towns=5, batches=8, units=4000, stations=10, technicians=4
)
AS_OF = SMALL.season_end


@pytest.fixture
def fleet(session: Session, tmp_path: Path) -> DemoSummary:
    summary = generate(tmp_path, SMALL)
    import_directory(session, tmp_path)
    # Sites that cannot be used must be reported, not silently dropped: FAR1 has no station
    # within 50 km, FAR2 has one that never reported an observation.
    import_csv(
        session,
        "sites",
        b"site_key,partner_key,name,lat,lon\nFAR1,P0001,Far,45.0,10.0\nFAR2,P0001,Far,40.0,5.0\n",
    )
    import_csv(session, "stations", b"station_key,lat,lon\nWSX,40.0,5.01\n")
    import_csv(
        session,
        "units",
        b"serial,batch_key,site_key,installed_on\nFAR-U1,B2025-01,FAR1,2025-09-01\n"
        b"FAR-U2,B2025-01,FAR2,2025-09-01\nFAR-U3,B2025-02,FAR2,2025-09-01\n",
    )
    session.flush()
    return summary


def _run(session: Session, **kwargs: object) -> tuple[int, list[dict]]:
    run = create_run(session, actor="tester", enqueue=False, **kwargs)  # type: ignore[arg-type]
    execute_run(session, run.id, actor="tester")
    return run.id, run_results(session, run.id)


def test_run_flags_the_cold_batch_with_every_json_field(session: Session, fleet: DemoSummary):
    run_id, results = _run(session, as_of=AS_OF)
    by_key = {r["batch_key"]: r for r in results}
    failing = session.execute(
        text(
            "SELECT DISTINCT b.batch_key FROM failure_report f JOIN unit u ON u.id = f.unit_id"
            " JOIN batch b ON b.id = u.batch_id"
        )
    ).scalars()
    assert set(by_key) == set(failing)  # one result per batch with a failure
    assert [k for k, r in by_key.items() if r["flagged"]] == [fleet.cold_batch]
    cold = by_key[fleet.cold_batch]
    for r in results:
        assert set(REQUIRED_JSON_KEYS) <= set(r)
        assert r["variable"] == "temp_min_c" and r["direction"] == "below"
    assert abs(cold["threshold_c"] - fleet.cold_threshold_c) <= 2
    assert cold["rate_ratio_ci"][0] > 1.5 and cold["sites_with_failures_below"] >= 2
    # Dates: the evidence held first, then the test alarmed, both inside the window.
    window_start = session.scalar(
        text("SELECT window_start FROM detection_run WHERE id = :id"), {"id": run_id}
    )
    evidence_on = date.fromisoformat(cold["evidence_first_held_on"])
    alarm_on = date.fromisoformat(cold["alarm_on"])
    assert window_start <= evidence_on <= alarm_on <= AS_OF
    seq = cold["sequential"]
    path = seq["path"]
    assert path["first_day"] == window_start.isoformat()
    assert len(path["statistic"]) == (AS_OF - window_start).days + 1
    alarm_index = (alarm_on - window_start).days
    assert path["statistic"][alarm_index] >= seq["critical_value"] - 1e-3
    assert path["evidence_met"][alarm_index]
    assert not any(
        s >= seq["critical_value"] and e
        for s, e in zip(path["statistic"][:alarm_index], path["evidence_met"], strict=False)
    )
    # The evidence a lead reads: rates per bin that contain the generator's true rate, and a
    # 30-day failure probability that falls as it gets warmer.
    n_bins, inside = rate_coverage(cold, fleet)
    assert n_bins >= 10 and inside >= 0.9 * n_bins
    curve = cold["rates"]["model"]["curve"]
    probabilities = [p["probability"] for p in curve]
    assert len(curve) >= 10
    assert all(a > b for a, b in itertools.pairwise(probabilities))
    assert "survival" in cold["rates"]["method"]
    summary = session.scalar(
        text("SELECT summary FROM detection_run WHERE id = :id"), {"id": run_id}
    )
    assert summary["flagged"] == [fleet.cold_batch]
    assert summary["sites_without_station"] == [{"site_key": "FAR1", "units": 1}]
    assert summary["sites_without_weather"] == [{"site_key": "FAR2", "units": 2}]


def test_iceberg_counts_match_a_direct_count(session: Session, fleet: DemoSummary):
    _, results = _run(session, as_of=AS_OF)
    [cold] = [r for r in results if r["flagged"]]
    ice = cold["iceberg"]
    rows = session.execute(
        text(
            """
            SELECT u.id, u.site_id, s.partner_id, s.lat, s.lon FROM unit u
            JOIN batch b ON b.id = u.batch_id JOIN site s ON s.id = u.site_id
            WHERE b.batch_key = :b AND NOT EXISTS (SELECT 1 FROM failure_report f
                WHERE f.unit_id = u.id AND (f.occurred_at AT TIME ZONE s.timezone)::date <= :d)
            """
        ),
        {"b": fleet.cold_batch, "d": AS_OF},
    ).all()
    assert ice["units_not_failed"] == len(rows) > 0
    assert ice["sites"] == len({r.site_id for r in rows})
    assert ice["partners"] == len({r.partner_id for r in rows})
    # Latest observation up to the as-of day at each unit's nearest station (within 50 km).
    latest = dict(
        session.execute(
            text(
                """
                SELECT s.id, (SELECT o.temp_min_c FROM weather_observation o
                              WHERE o.station_id = (SELECT w.id FROM weather_station w
                                  WHERE ST_DWithin(w.location, s.location, 50000)
                                  ORDER BY ST_Distance(w.location, s.location) LIMIT 1)
                                AND o.day <= :d ORDER BY o.day DESC LIMIT 1)
                FROM site s
                """
            ),
            {"d": AS_OF},
        ).all()
    )
    beyond = sum(
        1 for r in rows if latest[r.site_id] is not None and latest[r.site_id] < cold["threshold_c"]
    )
    assert ice["units_beyond_threshold_now"] == beyond


def test_backtesting_uses_only_what_was_known_on_the_as_of_day(
    session: Session, fleet: DemoSummary
):
    early = date(2025, 10, 20)
    _, results = _run(session, as_of=early)
    known = session.scalar(
        text(
            "SELECT count(DISTINCT f.unit_id) FROM failure_report f JOIN unit u ON u.id ="
            " f.unit_id JOIN site s ON s.id = u.site_id"
            " WHERE (f.occurred_at AT TIME ZONE s.timezone)::date <= :d"
        ),
        {"d": early},
    )
    assert sum(r["failures_below"] + r["failures_above"] for r in results) == known
    _, late = _run(session, as_of=AS_OF)
    assert sum(r["failures_below"] + r["failures_above"] for r in late) > known
    # The cold batch had not yet met its cold by 20 October; by the season's end it had.
    assert not next(r for r in results if r["batch_key"] == fleet.cold_batch)["flagged"]
    assert next(r for r in late if r["batch_key"] == fleet.cold_batch)["flagged"]


def test_evidence_rules_are_configurable_per_run(session: Session, fleet: DemoSummary):
    run_id, results = _run(session, as_of=AS_OF, evidence={"min_failures_beyond": 10_000})
    assert not any(r["flagged"] for r in results)
    cold = next(r for r in results if r["batch_key"] == fleet.cold_batch)
    assert "not met now: " in " ".join(cold["reasons"])
    assert "need >= 10000" in " ".join(cold["reasons"])
    params = session.scalar(
        text("SELECT parameters FROM detection_run WHERE id = :id"), {"id": run_id}
    )
    assert params == {"max_station_km": 50.0, "min_failures_beyond": 10_000}
    with pytest.raises(InvalidInput, match="min_sites_beyond"):
        create_run(session, actor="t", as_of=AS_OF, evidence={"min_sites_beyond": 0})
    with pytest.raises(InvalidInput, match="unknown evidence rule"):
        create_run(session, actor="t", as_of=AS_OF, evidence={"min_luck": 1})


def test_heat_runs_use_the_daily_maximum_above_a_threshold(session: Session, fleet: DemoSummary):
    _, results = _run(session, as_of=AS_OF, variable="temp_max_c")
    assert results and all(r["direction"] == "above" for r in results)
    assert all(r["variable"] == "temp_max_c" for r in results)
    # The cold batch fails in the cold, which is no heat signal.
    assert not next(r for r in results if r["batch_key"] == fleet.cold_batch)["flagged"]
    assert all(r["alarm_on"] is None for r in results)


def test_signals_keep_one_open_per_batch_and_follow_their_lifecycle(
    session: Session, fleet: DemoSummary
):
    first_run, _ = _run(session, as_of=AS_OF)
    second_run, _ = _run(session, as_of=AS_OF)
    signals = session.execute(
        text("SELECT id, status, first_run_id, status_changed_by FROM signal")
    ).all()
    assert len(signals) == 1  # the second run refreshed the open signal
    signal_id, status, first, by = signals[0]
    assert (status, first, by) == ("new", first_run, "tester")
    latest_run = session.scalar(
        text("SELECT r.run_id FROM signal s JOIN detection_result r ON r.id = s.latest_result_id")
    )
    assert latest_run == second_run
    change_signal_status(
        session, signal_id=signal_id, status="acknowledged", actor="lead@x", reason="looking"
    )
    with pytest.raises(Conflict, match="cannot become new"):
        change_signal_status(session, signal_id=signal_id, status="new", actor="lead@x", reason="")
    with pytest.raises(Conflict, match="already acknowledged"):
        change_signal_status(
            session, signal_id=signal_id, status="acknowledged", actor="lead@x", reason=""
        )
    with pytest.raises(InvalidInput, match="unknown state 'closed'"):
        change_signal_status(session, signal_id=signal_id, status="closed", actor="x", reason="")
    change_signal_status(
        session, signal_id=signal_id, status="recall_declared", actor="boss@x", reason="recall"
    )
    row = session.execute(
        text("SELECT status, status_changed_by, status_reason FROM signal WHERE id = :i"),
        {"i": signal_id},
    ).one()
    assert tuple(row) == ("recall_declared", "boss@x", "recall")
    trail = session.execute(
        text(
            "SELECT from_state, to_state, actor FROM event WHERE entity = 'signal'"
            " AND entity_key = :k ORDER BY id"
        ),
        {"k": str(signal_id)},
    ).all()
    assert [tuple(t) for t in trail] == [
        (None, "new", "tester"),
        ("new", "acknowledged", "lead@x"),
        ("acknowledged", "recall_declared", "boss@x"),
    ]
    # A declared recall closes the signal: the next flag opens a new one.
    _run(session, as_of=AS_OF)
    assert session.scalar(text("SELECT count(*) FROM signal WHERE status = 'new'")) == 1


def _declare(session: Session, batch_key: str, signal_id: int | None) -> Campaign:
    spec = CampaignIn(
        title="cold boot",
        scope=Scope(batch_keys=[batch_key]),
        remedy="Replace the power board",
        signal_id=signal_id,
    )
    return declare(session, spec=spec, actor="lead@x", today=AS_OF)


def test_a_batch_under_an_active_recall_raises_no_new_signal(session: Session, fleet: DemoSummary):
    _run(session, as_of=AS_OF)
    signal_id = session.scalar(text("SELECT id FROM signal"))
    campaign = _declare(session, fleet.cold_batch, signal_id)
    assert session.scalar(text("SELECT status FROM signal")) == "recall_declared"
    run_id, results = _run(session, as_of=AS_OF)
    # Still flagged in the results (the statistics do not know about recalls), but no signal.
    assert [r["batch_key"] for r in results if r["flagged"]] == [fleet.cold_batch]
    assert session.scalar(text("SELECT count(*) FROM signal")) == 1
    run = session.get(DetectionRun, run_id)
    assert run is not None and run.summary is not None
    assert run.summary["flagged_under_active_recall"] == [fleet.cold_batch]
    assert run.summary["flagged"] == [fleet.cold_batch]
    # Closed, the recall no longer answers: the next flag raises a new signal.
    campaign.status, campaign.closed_at = "closed", campaign.declared_at
    session.flush()
    _run(session, as_of=AS_OF)
    assert session.scalar(text("SELECT count(*) FROM signal WHERE status = 'new'")) == 1
    # A campaign that answers no signal but holds the batch's units covers it as well.
    new_signal = session.scalar(text("SELECT id FROM signal WHERE status = 'new'"))
    change_signal_status(
        session, signal_id=new_signal, status="dismissed", actor="lead@x", reason="recalled"
    )
    _declare(session, fleet.cold_batch, None)
    run_id, _ = _run(session, as_of=AS_OF)
    assert session.scalar(text("SELECT count(*) FROM signal WHERE status = 'new'")) == 0
    run = session.get(DetectionRun, run_id)
    assert run is not None and run.summary is not None
    assert run.summary["flagged_under_active_recall"] == [fleet.cold_batch]


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_api_queues_a_run_with_its_job_and_refuses_bad_input(
    session: Session, client: TestClient, fleet: DemoSummary
):
    lead = create_key(session, role="support_lead")
    partner = create_key(session, role="partner", partner_key="P0001")
    session.commit()
    response = client.post(
        "/api/v1/detection/runs",
        json={"as_of": "2026-02-28", "variable": "temp_max_c", "min_sites_beyond": 3},
        headers=h(lead),
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["direction"] == "above"
    assert body["parameters"] == {"max_station_km": 50.0, "min_sites_beyond": 3}
    job = session.execute(
        text("SELECT task_name, args, status FROM procrastinate_jobs ORDER BY id DESC LIMIT 1")
    ).one()
    assert tuple(job) == ("recall.run_detection", {"run_id": body["id"]}, "todo")
    listed = client.get("/api/v1/detection/runs", headers=h(lead)).json()
    assert [r["id"] for r in listed] == [body["id"]]
    bad = [
        ({"as_of": "2026-02-28", "since": "2026-03-01"}, "after the as-of date"),
        ({"variable": "humidity"}, "variable"),
        ({"min_failures_beyond": 0}, "min_failures_beyond"),
        ({"max_station_km": -5}, "max_station_km"),
        ({"direction": "sideways"}, "direction"),
        ({"as_of": "2026-02-28", "surprise": 1}, "surprise"),
    ]
    before = session.scalar(text("SELECT count(*) FROM detection_run"))
    for payload, needle in bad:
        response = client.post("/api/v1/detection/runs", json=payload, headers=h(lead))
        assert response.status_code == 422, payload
        assert needle in response.text, (payload, response.text)
    assert session.scalar(text("SELECT count(*) FROM detection_run")) == before
    assert client.get("/api/v1/signals?status=bogus", headers=h(lead)).status_code == 422
    assert client.get("/api/v1/detection/runs/999999", headers=h(lead)).status_code == 404
    response = client.post("/api/v1/detection/runs", json={}, headers=h(partner))
    assert response.status_code == 403


def test_api_lists_signals_and_changes_their_status(
    session: Session, client: TestClient, fleet: DemoSummary
):
    lead = create_key(session, role="support_lead", label="Lea Lead")
    _run(session, as_of=AS_OF)
    session.commit()
    [signal] = client.get("/api/v1/signals?status=new", headers=h(lead)).json()
    assert signal["batch_key"] == fleet.cold_batch and signal["latest_result"]["flagged"]
    assert signal["latest_result"]["iceberg"]["units_not_failed"] > 0
    response = client.post(
        f"/api/v1/signals/{signal['id']}/status",
        json={"status": "dismissed", "reason": "known supplier issue"},
        headers=h(lead),
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["status"] == "dismissed" and changed["status_reason"] == "known supplier issue"
    assert changed["status_changed_by"] != "tester"  # the key's actor, not the run's
    assert client.get("/api/v1/signals?status=new", headers=h(lead)).json() == []
    response = client.post(
        f"/api/v1/signals/{signal['id']}/status", json={"status": "acknowledged"}, headers=h(lead)
    )
    assert response.status_code == 409 and "cannot become acknowledged" in response.text


def test_api_shows_a_signal_with_its_evidence_and_its_sites(
    session: Session, client: TestClient, fleet: DemoSummary
):
    lead = create_key(session, role="support_lead")
    partner = create_key(session, role="partner", partner_key="P0001")
    _run_id, results = _run(session, as_of=AS_OF)
    session.commit()
    cold = next(r for r in results if r["flagged"])
    [listed] = client.get("/api/v1/signals", headers=h(lead)).json()
    assert listed["threshold_c"] == cold["threshold_c"]
    assert listed["alarm_on"] == cold["alarm_on"] and listed["evidence_first_held_on"]
    response = client.get(f"/api/v1/signals/{listed['id']}", headers=h(lead))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["batch_key"] == fleet.cold_batch and body["as_of"] == AS_OF.isoformat()
    assert body["failures_beyond"] == cold["failures_below"]
    assert body["rate_ratio_ci"] == cold["rate_ratio_ci"]
    assert body["iceberg"] == cold["iceberg"]
    # Rates per bin for the batch and the others, the model, and the test day by day.
    assert {"bin_c", "rate_per_1000", "rate_ci", "others_rate_per_1000"} <= set(body["rates"][0])
    assert body["rate_model"]["fitted"] and body["rate_model"]["curve"]
    seq = body["sequential"]
    window_start = date.fromisoformat(body["window_start"])
    assert seq["days"][0]["day"] == body["window_start"]
    assert seq["days"][-1]["day"] == AS_OF.isoformat()
    assert len(seq["days"]) == (AS_OF - window_start).days + 1
    alarm = next(d for d in seq["days"] if d["day"] == body["alarm_on"])
    assert alarm["evidence_met"] and alarm["statistic"] >= seq["critical_value"] - 1e-3
    assert seq["alarm_on"] == body["alarm_on"]

    response = client.get(f"/api/v1/signals/{listed['id']}/sites", headers=h(lead))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    geo = response.json()
    assert geo["type"] == "FeatureCollection" and geo["batch_key"] == fleet.cold_batch
    expected = session.execute(
        text(
            "SELECT count(*), count(DISTINCT u.site_id) FROM unit u JOIN batch b"
            " ON b.id = u.batch_id WHERE b.batch_key = :b AND u.installed_on <= :d"
        ),
        {"b": fleet.cold_batch, "d": AS_OF},
    ).one()
    features = geo["features"]
    assert len(features) == expected[1]
    assert sum(f["properties"]["units"] for f in features) == expected[0]
    failed = sum(f["properties"]["failed_units"] for f in features)
    assert failed == cold["n_failures"]  # every site has a station here: all failures count
    first = features[0]
    assert first["geometry"]["type"] == "Point" and len(first["geometry"]["coordinates"]) == 2
    assert {"site_key", "partner_key", "partner_name", "units", "failed_units"} <= set(
        first["properties"]
    )
    assert client.get("/api/v1/signals/999999", headers=h(lead)).status_code == 404
    assert client.get("/api/v1/signals/999999/sites", headers=h(lead)).status_code == 404
    assert client.get(f"/api/v1/signals/{listed['id']}", headers=h(partner)).status_code == 403


def test_api_shows_a_signal_stored_before_the_evidence_existed(
    session: Session, client: TestClient, fleet: DemoSummary
):
    lead = create_key(session, role="support_lead")
    _run(session, as_of=AS_OF)
    # A result as runs stored it before issue 13: a weekly CUSUM, a logistic fit, no dates.
    session.execute(
        text(
            "UPDATE detection_result SET result = result - 'sequential' - 'rates'"
            " - 'evidence_first_held_on' - 'alarm_on'"
            ' || \'{"cusum": {"alarm_week": 14}, "logistic": {}}\'::jsonb'
        )
    )
    session.commit()
    signal_id = session.scalar(text("SELECT id FROM signal"))
    response = client.get(f"/api/v1/signals/{signal_id}", headers=h(lead))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rates"] == [] and body["rate_model"] is None and body["sequential"] is None
    assert body["alarm_on"] is None and body["threshold_c"] is not None
