"""What the console's home shows: failure reports per week over the fleet (a Vega-Lite
chart declared with Altair) and the map of the partner sites (GeoJSON), from the
registry's queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
from sqlalchemy.orm import Session

from api.pages.widgets import PALETTE, feature_collection, point, vega_lite
from devices import overview as registry

WEEKS = 26
MAP_SITES = 2000  # more dots than this tell a lead nothing more, and slow a phone down
FAILED, QUIET = PALETTE[1], PALETTE[0]


@dataclass(frozen=True)
class Home:
    failures_chart: dict[str, Any]
    failures_total: int
    sites_map: dict[str, Any]
    sites_shown: int
    sites_total: int


def failures_chart(weeks: list[tuple[Any, int]]) -> dict[str, Any]:
    """Bars of failure reports per week."""
    data = alt.Data(values=[{"week": w.isoformat(), "reports": n} for w, n in weeks])
    chart = (
        alt.Chart(data, height=180)
        .mark_bar(color=FAILED)
        .encode(
            x=alt.X(
                "yearmonthdate(week):O",
                title="Week of",
                axis=alt.Axis(format="%d %b", labelAngle=-45, labelOverlap="greedy"),
            ),
            y=alt.Y("reports:Q", title="Failure reports", axis=alt.Axis(tickMinStep=1)),
            tooltip=[
                alt.Tooltip("yearmonthdate(week):T", title="Week of"),
                alt.Tooltip("reports:Q", title="Reports"),
            ],
        )
    )
    return vega_lite(chart)


def sites_map(sites: list[registry.SiteOverview]) -> dict[str, Any]:
    """A dot per site, orange where a unit failed (drawn last, so on top)."""
    return feature_collection(
        point(
            s.lat,
            s.lon,
            title=f"{s.site_key} {s.name} ({s.partner_key}): {s.units} units, "
            f"{s.failures} failure reports",
            color=FAILED if s.failures else QUIET,
            site=s.site_key,
        )
        for s in sorted(sites, key=lambda s: s.failures > 0)
    )


def home(session: Session) -> Home:
    weeks = registry.failures_per_week(session, weeks=WEEKS)
    sites, total = registry.site_overview(session, limit=MAP_SITES)
    return Home(
        failures_chart=failures_chart(weeks),
        failures_total=sum(n for _, n in weeks),
        sites_map=sites_map(sites),
        sites_shown=len(sites),
        sites_total=total,
    )
