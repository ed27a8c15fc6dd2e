"""A route sheet in the machine and print formats a technician uses: JSON, a printable
PDF, iCalendar (the day's stops as events), GPX and GeoJSON of the route. The phone page
(HTML) is one of the technician's pages, in ``api/pages/technician``.

Pure functions of a RouteSheet: no database, no web framework. Times are shown in the
plan's time zone and carried with their offset in the machine formats.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import gpxpy.gpx
from fpdf import FPDF
from icalendar import Calendar, Event

from routing.sheets.service import RouteSheet, SheetStop

FORMATS = {
    "json": "application/json",
    "pdf": "application/pdf",
    "ics": "text/calendar; charset=utf-8",
    "gpx": "application/gpx+xml",
    "geojson": "application/geo+json",
}


def _local(sheet: RouteSheet, moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(sheet.timezone))


def local_hm(sheet: RouteSheet, moment: datetime) -> str:
    """A moment as HH:MM in the plan's time zone."""
    return _local(sheet, moment).strftime("%H:%M")


def _stop_title(stop: SheetStop) -> str:
    return f"{stop.seq}. {stop.work.site_name} ({stop.work.site_key})"


def to_json(sheet: RouteSheet) -> dict[str, Any]:
    """The sheet as a JSON-ready dict: ISO 8601 times with their offset."""
    return {
        "route_id": sheet.route_id,
        "plan_id": sheet.plan_id,
        "plan_version": sheet.plan_version,
        "day": sheet.day.isoformat(),
        "timezone": sheet.timezone,
        "technician": {"key": sheet.technician_key, "name": sheet.technician_name},
        "departure": sheet.departure.isoformat(),
        "return": sheet.return_at.isoformat(),
        "break": (
            {"start": sheet.break_start.isoformat(), "minutes": sheet.break_minutes}
            if sheet.break_start
            else None
        ),
        "totals": {
            "drive_minutes": sheet.drive_minutes,
            "distance_km": round(sheet.distance_km, 1),
            "work_minutes": sheet.work_minutes,
            "stops": len(sheet.stops),
            "units": sum(len(s.work.units) for s in sheet.stops),
        },
        "stops": [
            {
                "stop_id": s.stop_id,
                "seq": s.seq,
                "status": s.status,
                "visit_id": s.work.visit_id,
                "eta": s.arrival.isoformat(),
                "service_start": s.service_start.isoformat(),
                "service_end": s.service_end.isoformat(),
                "arrival_window": {
                    "start": s.window_start.isoformat(),
                    "end": s.window_end.isoformat(),
                },
                "drive_minutes_before": s.drive_minutes_before,
                "distance_km_before": round(s.distance_km_before, 1),
                "site": {
                    "key": s.work.site_key,
                    "name": s.work.site_name,
                    "address": s.work.address,
                    "lat": s.work.lat,
                    "lon": s.work.lon,
                    "opening_hours": s.work.opening_hours,
                },
                "partner": {
                    "key": s.work.partner_key,
                    "name": s.work.partner_name,
                    "email": s.work.contact_email,
                    "phone": s.work.contact_phone,
                },
                "access_notes": s.work.access_notes,
                "remedy": s.work.remedy,
                "units": [
                    {
                        "serial": u.serial,
                        "state": u.state,
                        # What the partner reported about the unit, still open.
                        "reports": [
                            {
                                "report_key": r.report_key,
                                "occurred_at": r.occurred_at.isoformat(),
                                "symptom": r.symptom,
                                "status": r.status,
                            }
                            for r in u.reports
                        ],
                    }
                    for u in s.work.units
                ],
            }
            for s in sheet.stops
        ],
    }


def _latin1(text: str) -> str:
    # The PDF core fonts cover Latin-1; anything else is replaced rather than dropped.
    return text.replace("\u2013", "-").encode("latin-1", "replace").decode("latin-1")


def to_pdf(sheet: RouteSheet) -> bytes:
    """The printable sheet: one block per stop (with the site's opening hours), with tick
    boxes for the serials."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(
        0,
        8,
        _latin1(f"{sheet.technician_name} - {sheet.day.isoformat()}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(
        0,
        5,
        _latin1(
            f"{len(sheet.stops)} stops, drive {sheet.drive_minutes} min, "
            f"{sheet.distance_km:.1f} km, work {sheet.work_minutes} min; leave "
            f"{local_hm(sheet, sheet.departure)}, back {local_hm(sheet, sheet.return_at)}; "
            f"plan version {sheet.plan_version}; times in {sheet.timezone}"
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    for stop in sheet.stops:
        work = stop.work
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(
            0,
            6,
            _latin1(
                f"{_stop_title(stop)}  ETA {local_hm(sheet, stop.arrival)} "
                f"(window {local_hm(sheet, stop.window_start)}-{local_hm(sheet, stop.window_end)})"
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_font("Helvetica", "", 9)
        lines = [
            work.address or "",
            f"Open: {work.opening_hours or 'always'} (site time, {work.timezone})",
            f"{work.partner_name}  {work.contact_phone or ''}  {work.contact_email or ''}",
            f"Access: {work.access_notes}" if work.access_notes else "",
            f"Remedy: {work.remedy}",
            "Units: " + "   ".join(f"[ ] {u.serial}" for u in work.units),
            *(
                f"  {u.serial} reported {r.occurred_at.date().isoformat()} ({r.report_key}): "
                f"{r.symptom or 'no symptom given'}"
                for u in work.units
                for r in u.reports
            ),
        ]
        pdf.multi_cell(
            0, 5, _latin1("\n".join(line for line in lines if line)), new_x="LMARGIN", new_y="NEXT"
        )
    return bytes(pdf.output())


def to_ics(sheet: RouteSheet) -> bytes:
    """The day's stops as calendar events, from service start to service end."""
    cal = Calendar()
    cal.add("prodid", "-//fieldrecall//route sheet//EN")
    cal.add("version", "2.0")
    for stop in sheet.stops:
        event = Event()
        event.add("uid", f"stop-{stop.stop_id}@fieldrecall")
        event.add("dtstamp", sheet.departure)
        event.add("dtstart", stop.service_start)
        event.add("dtend", stop.service_end)
        event.add("summary", _stop_title(stop))
        event.add("location", ", ".join(p for p in (stop.work.site_name, stop.work.address) if p))
        event.add("geo", (stop.work.lat, stop.work.lon))
        event.add(
            "description",
            f"ETA {local_hm(sheet, stop.arrival)}; units: "
            + ", ".join(u.serial for u in stop.work.units)
            + f"\nRemedy: {stop.work.remedy}",
        )
        cal.add_component(event)
    return cal.to_ical()


def to_gpx(sheet: RouteSheet) -> str:
    """Stops as waypoints and the day as a route: home, stops in order, home."""
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "fieldrecall"
    route = gpxpy.gpx.GPXRoute(name=f"{sheet.technician_key} {sheet.day.isoformat()}")
    route.points.append(gpxpy.gpx.GPXRoutePoint(sheet.home_lat, sheet.home_lon, name="Start"))
    for stop in sheet.stops:
        name = _stop_title(stop)
        gpx.waypoints.append(
            gpxpy.gpx.GPXWaypoint(stop.work.lat, stop.work.lon, name=name, time=stop.arrival)
        )
        route.points.append(
            gpxpy.gpx.GPXRoutePoint(stop.work.lat, stop.work.lon, name=name, time=stop.arrival)
        )
    route.points.append(gpxpy.gpx.GPXRoutePoint(sheet.home_lat, sheet.home_lon, name="End"))
    gpx.routes.append(route)
    return gpx.to_xml()


def to_geojson(sheet: RouteSheet) -> dict[str, Any]:
    """A LineString of the day (home, stops, home) and a Point per stop."""
    home = [sheet.home_lon, sheet.home_lat]
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [home, *([s.work.lon, s.work.lat] for s in sheet.stops), home],
            },
            "properties": {
                "kind": "route",
                "technician": sheet.technician_key,
                "day": sheet.day.isoformat(),
                "drive_minutes": sheet.drive_minutes,
                "distance_km": round(sheet.distance_km, 1),
            },
        }
    ]
    features += [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [s.work.lon, s.work.lat]},
            "properties": {
                "kind": "stop",
                "seq": s.seq,
                "site_key": s.work.site_key,
                "eta": s.arrival.isoformat(),
                "units": [u.serial for u in s.work.units],
            },
        }
        for s in sheet.stops
    ]
    return {"type": "FeatureCollection", "features": features}


def render(sheet: RouteSheet, fmt: str) -> bytes:
    """The sheet in ``fmt`` (a key of FORMATS) as bytes."""
    if fmt == "json":
        return json.dumps(to_json(sheet), indent=2).encode()
    if fmt == "pdf":
        return to_pdf(sheet)
    if fmt == "ics":
        return to_ics(sheet)
    if fmt == "gpx":
        return to_gpx(sheet).encode()
    if fmt == "geojson":
        return json.dumps(to_geojson(sheet)).encode()
    raise ValueError(f"unknown sheet format {fmt!r}")
