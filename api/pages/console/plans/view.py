"""What a plan's page shows: one day of the plan at a time, as a map (each technician's
route in its own colour, from home through numbered stops and back) and as a timeline
per technician (a Vega-Lite chart of driving, work on site and the lunch break), the
visits the plan leaves out with the reason, and the figures of the solve.

Times show in the plan's time zone; the timeline gets them as local wall-clock times
without an offset, which the browser reads as they are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import altair as alt

from api.pages.widgets import TECHNICIAN_COLOURS, feature_collection, line, point, vega_lite
from routing.plans.schemas import PlanDetailOut, RouteOut

# What each reason a visit is left out means, for people.
UNASSIGNED_REASONS = {
    "no_skilled_technician": "no technician has the skill",
    "closed_every_day": "the site is closed on every day of the plan",
    "no_technician_available": "no technician works on a day the site is open",
    "pinned_technician_unavailable": "its confirmed technician is not available",
    "out_of_reach": "no technician can get there, do the job and get home within a shift",
    "insufficient_capacity": "not enough technician-days in the plan's range",
}
DRIVING, ON_SITE, BREAK = "driving", "on site", "lunch break"
GREY, LIGHT = "#8a8a8a", "#c9c9c9"


@dataclass(frozen=True)
class PlanDay:
    days: list[date]  # the days with routes, in order
    day: date | None  # the day shown
    routes: list[RouteOut]  # that day's routes, by technician
    colours: dict[str, int]  # technician key -> TECHNICIAN_COLOURS index (same every day)
    route_map: dict[str, Any]
    timeline: dict[str, Any] | None


def technician_colours(plan: PlanDetailOut) -> dict[str, int]:
    """An index into TECHNICIAN_COLOURS per technician of the plan, by technician key."""
    keys = sorted({r.technician_key for r in plan.routes})
    return {key: i % len(TECHNICIAN_COLOURS) for i, key in enumerate(keys)}


def day_map(routes: list[RouteOut], colours: dict[str, int]) -> dict[str, Any]:
    """Each route as a line home -> stops -> home in its technician's colour, each stop
    a marker numbered in visiting order, each home a dot."""
    features = []
    for r in routes:
        colour = TECHNICIAN_COLOURS[colours[r.technician_key]]
        home = (r.home_lat, r.home_lon)
        path = [home, *((s.lat, s.lon) for s in r.stops), home]
        features.append(line(path, color=colour, title=f"{r.technician_name} ({r.technician_key})"))
    for r in routes:
        colour = TECHNICIAN_COLOURS[colours[r.technician_key]]
        features.append(
            point(
                r.home_lat,
                r.home_lon,
                color=colour,
                title=f"Home of {r.technician_name} ({r.technician_key})",
                home=r.technician_key,
            )
        )
        features += [
            point(
                s.lat,
                s.lon,
                label=s.seq,
                color=colour,
                title=f"{r.technician_key} stop {s.seq}: {s.site_name} ({s.site_key}), "
                f"partner {s.partner_key}",
                stop=s.visit_id,
            )
            for s in r.stops
        ]
    return feature_collection(features)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="minutes")


def timeline(routes: list[RouteOut], colours: dict[str, int], timezone: str) -> dict[str, Any]:
    """Bars per technician over the day: driving to each stop (grey), work on site (the
    technician's colour), the lunch break (light grey)."""
    zone = ZoneInfo(timezone)
    rows: list[dict[str, Any]] = []

    def bar(r: RouteOut, what: str, start: datetime, end: datetime, colour: str, at: str) -> None:
        rows.append(
            {
                "technician": f"{r.technician_key} {r.technician_name}",
                "what": what,
                "where": at,
                "start": _local(start, zone),
                "end": _local(end, zone),
                "colour": colour,
            }
        )

    for r in routes:
        for s in r.stops:
            drive_from = s.arrival - timedelta(minutes=s.drive_minutes_before)
            bar(r, DRIVING, drive_from, s.arrival, GREY, f"to stop {s.seq}")
            bar(
                r,
                ON_SITE,
                s.service_start,
                s.service_end,
                TECHNICIAN_COLOURS[colours[r.technician_key]],
                f"stop {s.seq}: {s.site_name} ({s.site_key})",
            )
        last_end = r.stops[-1].service_end if r.stops else r.departure
        bar(r, DRIVING, last_end, r.return_at, GREY, "home")
        if r.break_start is not None and r.break_minutes:
            bar(
                r,
                BREAK,
                r.break_start,
                r.break_start + timedelta(minutes=r.break_minutes),
                LIGHT,
                "",
            )
    chart = (
        alt.Chart(alt.Data(name="bars"), height=max(60, 30 * len(routes)))
        .mark_bar(height=18)
        .encode(
            x=alt.X("start:T", title=f"Time ({timezone})", axis=alt.Axis(format="%H:%M")),
            x2="end:T",
            y=alt.Y("technician:N", title=None, sort=None),
            color=alt.Color("colour:N", scale=None, legend=None),
            tooltip=[
                alt.Tooltip("technician:N", title="Technician"),
                alt.Tooltip("what:N", title="What"),
                alt.Tooltip("where:N", title="Where"),
                alt.Tooltip("start:T", title="From", format="%H:%M"),
                alt.Tooltip("end:T", title="To", format="%H:%M"),
            ],
        )
    )
    return vega_lite(chart, {"bars": rows})


def plan_day(plan: PlanDetailOut, day: date | None) -> PlanDay:
    """The day to show (the one asked for, else the first with routes) and its widgets."""
    days = sorted({r.day for r in plan.routes})
    shown = day if day in days else (days[0] if days else None)
    colours = technician_colours(plan)
    routes = [r for r in plan.routes if r.day == shown]
    return PlanDay(
        days=days,
        day=shown,
        routes=routes,
        colours=colours,
        route_map=day_map(routes, colours),
        timeline=timeline(routes, colours, plan.timezone) if routes else None,
    )
