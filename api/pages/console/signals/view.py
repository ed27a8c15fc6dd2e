"""What a signal's page shows, from detection's evidence (``detection.get_signal`` and
``signal_sites``): the batch and its threshold, the evidence in numbers and in pictures
(failures per 1,000 unit-days in each temperature bin for the batch against all other
batches, with their exact 95 % intervals; the sequential statistic day by day with its
critical value and the alarm date; the 30-day failure probability the rate model gives
at a steady temperature), the map of the batch's sites with the failed units marked, the
iceberg, and the recalls that answer the signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
from sqlalchemy.orm import Session

from api.pages.widgets import PALETTE, feature_collection, point, vega_lite
from recall.campaigns import service as campaigns
from recall.detection import service as detection
from recall.detection.schemas import SignalDetailOut
from recall.models import Campaign

BATCH, OTHERS = PALETTE[1], PALETTE[0]
QUIET, FAILED = PALETTE[0], PALETTE[1]
# The rate chart's height is set by the rates, not by the widest interval: an interval
# that reaches past this many times the highest rate is cut at the chart's top.
HEADROOM = 2.5


@dataclass(frozen=True)
class SignalPage:
    signal: SignalDetailOut
    rates_chart: dict[str, Any] | None
    sequential_chart: dict[str, Any] | None
    probability_chart: dict[str, Any] | None
    sites_map: dict[str, Any]
    sites: int
    failed_sites: int
    recalls: list[Campaign]  # the recalls declared from this signal


def _threshold_rule(threshold_c: float | None, label: str) -> alt.Chart | None:
    if threshold_c is None:
        return None
    data = alt.Data(values=[{"x": threshold_c, "label": label}])
    rule = alt.Chart(data).mark_rule(strokeDash=[6, 4], color="#000000").encode(x="x:Q")
    text = (
        alt.Chart(data)
        .mark_text(align="left", dx=4, dy=-6, fontSize=13)
        .encode(x="x:Q", y=alt.value(12), text="label:N")
    )
    return rule + text


def _bin_rows(s: SignalDetailOut, *, ours: bool) -> list[dict[str, Any]]:
    """One row per temperature bin with a rate: the batch's, or the other batches'."""
    rows = []
    for b in s.rates:
        rate = b.rate_per_1000 if ours else b.others_rate_per_1000
        if rate is None:
            continue
        low, high = b.rate_ci if ours else b.others_rate_ci
        rows.append(
            {
                "bin": b.bin_c,
                "rate": rate,
                "low": low,
                "high": high,
                "failures": b.failures if ours else b.others_failures,
                "unit_days": b.unit_days if ours else b.others_unit_days,
            }
        )
    return rows


def rates_chart(s: SignalDetailOut) -> dict[str, Any] | None:
    """Per temperature bin: the batch's rate (points, with error bars) and the other
    batches' (a line, with its interval as a band), per 1,000 unit-days."""
    batch, others = _bin_rows(s, ours=True), _bin_rows(s, ours=False)
    if not batch and not others:
        return None
    highest = max([float(r["rate"]) for r in batch + others] + [0.1])
    top = HEADROOM * highest
    x = alt.X("bin:Q", title=f"{s.variable} that day (°C, whole-degree bins)")
    y = alt.Y("rate:Q", title="Failures per 1,000 unit-days", scale=alt.Scale(domain=[0, top]))
    tooltip = [
        alt.Tooltip("bin:Q", title="°C"),
        alt.Tooltip("rate:Q", title="Rate", format=".2f"),
        alt.Tooltip("low:Q", title="95 % from", format=".2f"),
        alt.Tooltip("high:Q", title="95 % to", format=".2f"),
        alt.Tooltip("failures:Q", title="Failures"),
        alt.Tooltip("unit_days:Q", title="Unit-days", format=",.0f"),
    ]
    theirs = alt.Chart(alt.Data(name="others"))
    ours = alt.Chart(alt.Data(name="batch"))
    layers: list[alt.Chart] = [
        theirs.mark_area(color=OTHERS, opacity=0.2, clip=True).encode(x=x, y="low:Q", y2="high:Q"),
        theirs.mark_line(color=OTHERS, clip=True).encode(x=x, y=y, tooltip=tooltip),
        ours.mark_rule(color=BATCH, strokeWidth=1.5, opacity=0.5, clip=True).encode(
            x=x, y="low:Q", y2="high:Q"
        ),
        ours.mark_point(color=BATCH, filled=True, size=70, clip=True).encode(
            x=x, y=y, tooltip=tooltip
        ),
    ]
    rule = _threshold_rule(s.threshold_c, f"threshold {s.threshold_c:g} °C")
    chart = alt.layer(*layers, *([rule] if rule is not None else [])).properties(height=260)
    return vega_lite(chart, {"others": others, "batch": batch})


def sequential_chart(s: SignalDetailOut) -> dict[str, Any] | None:
    """The sequential statistic each day, the critical value it must reach, the day it
    alarmed."""
    seq = s.sequential
    if seq is None or not seq.days:
        return None
    days = [{"day": d.day.isoformat(), "statistic": d.statistic} for d in seq.days]
    line = (
        alt.Chart(alt.Data(name="days"))
        .mark_line(color=BATCH, interpolate="step-after")
        .encode(
            x=alt.X("day:T", title="Day", axis=alt.Axis(format="%d %b", labelAngle=-45)),
            y=alt.Y("statistic:Q", title="Log-likelihood ratio"),
            tooltip=[
                alt.Tooltip("day:T", title="Day", format="%d %b %Y"),
                alt.Tooltip("statistic:Q", title="Statistic", format=".2f"),
            ],
        )
    )
    limit = alt.Data(values=[{"y": seq.critical_value, "label": "critical value"}])
    layers: list[alt.Chart] = [
        line,
        alt.Chart(limit).mark_rule(color="#000000", strokeDash=[6, 4]).encode(y="y:Q"),
        alt.Chart(limit)
        .mark_text(align="left", dx=4, dy=-7, fontSize=13)
        .encode(x=alt.value(4), y="y:Q", text="label:N"),
    ]
    if seq.alarm_on is not None:
        alarm = alt.Data(
            values=[{"day": seq.alarm_on.isoformat(), "label": f"alarm {seq.alarm_on:%d %b %Y}"}]
        )
        layers += [
            # Dotted and black: in the statistic's colour it read as the line itself
            # dropping to zero on the alarm day.
            alt.Chart(alarm)
            .mark_rule(color="#000000", strokeDash=[2, 3], strokeWidth=1.5)
            .encode(x="day:T"),
            alt.Chart(alarm)
            .mark_text(align="right", dx=-4, fontSize=13, color="#000000")
            .encode(x="day:T", y=alt.value(12), text="label:N"),
        ]
    return vega_lite(alt.layer(*layers).properties(height=220), {"days": days})


def probability_chart(s: SignalDetailOut) -> dict[str, Any] | None:
    """The rate model's chance that a unit fails within its horizon at a steady
    temperature: the batch (with its interval) against the other batches."""
    model = s.rate_model
    if model is None or not model.fitted or not model.curve:
        return None
    rows = [
        {
            "t": p.temperature_c,
            "batch": p.probability,
            "low": p.probability_ci[0],
            "high": p.probability_ci[1],
            "others": p.others_probability,
        }
        for p in model.curve
        if p.probability is not None
    ]
    base = alt.Chart(alt.Data(name="curve"))
    x = alt.X("t:Q", title="Steady temperature (°C)")
    title = f"Chance to fail within {model.days} days"
    chart = alt.layer(
        base.mark_area(color=BATCH, opacity=0.2).encode(x=x, y="low:Q", y2="high:Q"),
        base.mark_line(color=BATCH).encode(
            x=x, y=alt.Y("batch:Q", title=title, axis=alt.Axis(format=".1%"))
        ),
        base.mark_line(color=OTHERS, strokeDash=[6, 4]).encode(x=x, y="others:Q"),
    ).properties(height=200)
    return vega_lite(chart, {"curve": rows})


def sites_map(sites: dict[str, Any]) -> dict[str, Any]:
    """A dot per site of the batch, orange where a unit of it failed (drawn on top)."""
    features = sorted(sites["features"], key=lambda f: f["properties"]["failed_units"] > 0)
    return feature_collection(
        point(
            f["geometry"]["coordinates"][1],
            f["geometry"]["coordinates"][0],
            title=f"{p['name']} ({p['site_key']}), {p['partner_name']}: {p['units']} unit(s) "
            f"of the batch, {p['failed_units']} failed",
            color=FAILED if p["failed_units"] else QUIET,
            site=p["site_key"],
        )
        for f in features
        for p in [f["properties"]]
    )


def signal_page(session: Session, *, signal_id: int) -> SignalPage:
    signal = detection.get_signal(session, signal_id=signal_id)
    sites = detection.signal_sites(session, signal_id=signal_id)
    return SignalPage(
        signal=signal,
        rates_chart=rates_chart(signal),
        sequential_chart=sequential_chart(signal),
        probability_chart=probability_chart(signal),
        sites_map=sites_map(sites),
        sites=len(sites["features"]),
        failed_sites=sum(1 for f in sites["features"] if f["properties"]["failed_units"]),
        recalls=[
            c
            for c in campaigns.list_campaigns(session, partner_id=None)
            if c.signal_id == signal_id
        ],
    )
