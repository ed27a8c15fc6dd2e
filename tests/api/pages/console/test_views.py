"""The console's page shapes that are pure: the burn-down the published plan promises,
the day a plan's page shows, technicians' colours, the timeline's bars, the declaration
form's reading of what the lead typed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import api
from api.pages.console.campaigns.view import PLANNED, burn_down_chart, planned_burn_down
from api.pages.console.declare.form import ScopeForm
from api.pages.console.plans.view import plan_day, technician_colours
from api.pages.console.signals.view import (
    probability_chart,
    rates_chart,
    sequential_chart,
    sites_map,
)
from api.pages.widgets import TECHNICIAN_COLOURS
from recall.campaigns.progress import DayProgress
from recall.campaigns.schemas import VisitOut
from recall.detection.schemas import BinRateOut, SignalDetailOut
from routing.plans.schemas import PlanDetailOut, RouteOut, StopOut

TODAY = date(2026, 12, 2)


def visit(day: date | None, units: int, status: str = "scheduled") -> VisitOut:
    return VisitOut(
        id=1,
        campaign_id=1,
        site_key="S",
        site_name="S",
        site_timezone="UTC",
        partner_key="P",
        status=status,
        attempt=1,
        unit_count=units,
        estimated_minutes=30,
        priority_rank=1,
        recent_min_temp_c=None,
        scheduled_date=day,
        window_start=None,
        window_end=None,
        partner_confirmed_at=None,
        told_at=None,
        blocked_dates=[],
        preferred_windows=[],
        partner_note=None,
    )


def test_the_plan_burns_down_what_is_open_day_by_day() -> None:
    today = DayProgress(day=TODAY, units=10, final=2, fixed=1)  # 8 open
    visits = [
        visit(TODAY + timedelta(days=2), 3),
        visit(TODAY + timedelta(days=1), 2),
        visit(TODAY + timedelta(days=2), 1),
        visit(TODAY - timedelta(days=1), 1),  # overdue: counts today
        visit(None, 4, status="requested"),  # not planned: stays open
    ]
    assert planned_burn_down(today, visits) == [
        (TODAY, 8),
        (TODAY, 7),
        (TODAY + timedelta(days=1), 5),
        (TODAY + timedelta(days=2), 1),
    ]
    assert planned_burn_down(today, [visit(None, 4, status="requested")]) == []
    spec = burn_down_chart([today], planned_burn_down(today, visits))
    rows = spec["datasets"][spec["data"]["name"]]  # named data: rows beside the spec
    planned = [(r["day"], r["units"]) for r in rows if r["what"] == PLANNED]
    assert planned == [
        ("2026-12-02", 8),
        ("2026-12-02", 7),
        ("2026-12-03", 5),
        ("2026-12-04", 1),
    ]


def route(key: str, day: date, stops: int) -> RouteOut:
    at = datetime(2026, 12, 3, 8, tzinfo=UTC) + timedelta(days=(day - date(2026, 12, 3)).days)
    return RouteOut(
        route_id=1,
        technician_key=key,
        technician_name=key,
        home_lat=65.0,
        home_lon=25.0,
        day=day,
        departure=at,
        return_at=at + timedelta(hours=8),
        break_start=None,
        break_minutes=0,
        drive_minutes=60,
        distance_km=60.0,
        work_minutes=120,
        stops=[
            StopOut(
                seq=i,
                visit_id=i,
                site_key=f"S{i}",
                site_name=f"S{i}",
                partner_key="P",
                lat=65.0 + i / 100,
                lon=25.0,
                arrival=at + timedelta(hours=i),
                service_start=at + timedelta(hours=i),
                service_end=at + timedelta(hours=i, minutes=30),
                window_start=at,
                window_end=at + timedelta(hours=2),
                drive_minutes_before=20,
                distance_km_before=20.0,
                status="planned",
            )
            for i in range(1, stops + 1)
        ],
    )


def test_a_crew_of_twelve_gets_twelve_colours_and_the_swatches_match() -> None:
    day = date(2026, 12, 3)
    keys = [f"T{i:02d}" for i in range(1, 13)]
    plan = PlanDetailOut.model_construct(routes=[route(k, day, 1) for k in keys])
    colours = technician_colours(plan)
    assert sorted(colours.values()) == list(range(12))
    assert len({TECHNICIAN_COLOURS[i].lower() for i in colours.values()}) == 12
    # The legend's swatches (pages.css) draw the same colour as the map and timeline.
    css = (Path(api.__file__).parent / "static" / "fieldrecall" / "pages.css").read_text()
    for i, colour in enumerate(TECHNICIAN_COLOURS):
        assert f".swatch-{i} {{ background: {colour}; }}" in css


def test_a_plan_page_shows_one_day_with_stable_colours() -> None:
    d1, d2 = date(2026, 12, 3), date(2026, 12, 4)
    plan = PlanDetailOut.model_construct(
        timezone="Europe/Helsinki",
        routes=[route("T2", d1, 2), route("T1", d2, 1), route("T2", d2, 3)],
    )
    assert technician_colours(plan) == {"T1": 0, "T2": 1}
    first = plan_day(plan, None)
    assert (first.days, first.day, [r.technician_key for r in first.routes]) == (
        [d1, d2],
        d1,
        ["T2"],
    )
    second = plan_day(plan, d2)
    assert [r.technician_key for r in second.routes] == ["T1", "T2"]
    # A line per route, a home dot per route, a numbered marker per stop.
    features = second.route_map["features"]
    labels = [f["properties"].get("label") for f in features if "label" in f["properties"]]
    assert labels == [1, 1, 2, 3]
    assert sum(f["geometry"]["type"] == "LineString" for f in features) == 2
    # Timeline: per stop a drive and a visit, per route the drive home (no break here);
    # local wall-clock times in the plan's zone (08:00 UTC is 10:00 in Helsinki).
    assert second.timeline is not None
    values = second.timeline["datasets"][second.timeline["data"]["name"]]
    assert len(values) == (1 * 2 + 1) + (3 * 2 + 1)
    assert min(v["start"] for v in values).endswith("T10:40")
    # A day the plan does not have shows its first day.
    assert plan_day(plan, date(2027, 1, 1)).day == d1


def test_the_scope_form_reads_lists_ranges_and_the_region() -> None:
    form = ScopeForm(
        title=" Cold boot ",
        remedy="Replace",
        batch_keys="B1, B2\nB3",
        serial_ranges="U001..U009\n\nU100 .. U120",
        region='{"type": "Polygon", "coordinates": [[[25, 64], [26, 64], [26, 65], [25, 64]]]}',
    )
    spec = form.spec()
    assert spec is not None and form.problems == []
    assert spec.title == "Cold boot" and spec.scope.batch_keys == ["B1", "B2", "B3"]
    assert [(r.first, r.last) for r in spec.scope.serial_ranges] == [
        ("U001", "U009"),
        ("U100", "U120"),
    ]
    assert spec.scope.region is not None and spec.scope.region["type"] == "Polygon"
    bad = ScopeForm(title="t", remedy="r", serial_ranges="U1-U9", region="{not json")
    assert bad.spec() is None
    assert bad.problems == [
        "serial ranges, line 1: write FIRST..LAST, not 'U1-U9'",
        "region: the drawn polygon could not be read; draw it again",
    ]
    empty = ScopeForm(title="t", remedy="r")
    assert empty.spec() is None
    assert empty.problems == [
        "scope: scope needs at least one of batch_keys, models or serial_ranges"
    ]


def test_the_signal_pictures_carry_the_evidence() -> None:
    def bin_(c: int, rate: float | None, others: float) -> BinRateOut:
        return BinRateOut(
            bin_c=c,
            unit_days=1000.0,
            failures=0 if not rate else 2,
            rate_per_1000=rate,
            rate_ci=[0.0, 9.0],
            others_unit_days=20000.0,
            others_failures=1,
            others_rate_per_1000=others,
            others_rate_ci=[0.01, 0.3],
        )

    signal = SignalDetailOut.model_construct(
        variable="temp_min_c",
        threshold_c=-8.0,
        rates=[bin_(-12, 2.0, 0.05), bin_(-4, None, 0.04), bin_(2, 0.0, 0.05)],
        sequential=None,
        rate_model=None,
    )
    spec = rates_chart(signal)
    assert spec is not None
    layers = spec["layer"]
    points = next(layer for layer in layers if layer["mark"].get("type") == "point")
    batch_points = spec["datasets"][points["data"]["name"]]
    assert [(r["bin"], r["rate"]) for r in batch_points] == [(-12, 2.0), (2, 0.0)]
    # The y axis reaches 2.5 x the highest rate: the 9.0 intervals are cut at 5.0.
    assert batch_points and any(
        layer["encoding"].get("y", {}).get("scale", {}).get("domain") == [0, 5.0]
        for layer in layers
    )
    assert sequential_chart(signal) is None and probability_chart(signal) is None
    fc = sites_map(
        {
            "features": [
                {
                    "geometry": {"coordinates": [25.0, 65.0]},
                    "properties": {
                        "site_key": k,
                        "name": k,
                        "partner_name": "P",
                        "units": 3,
                        "failed_units": n,
                    },
                }
                for k, n in (("S1", 1), ("S2", 0))
            ]
        }
    )
    # Failed sites last (on top), orange; the others blue.
    assert [(f["properties"]["site"], f["properties"]["color"]) for f in fc["features"]] == [
        ("S2", "#0072B2"),
        ("S1", "#D55E00"),
    ]
