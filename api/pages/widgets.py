"""The Python side of the page widgets (drawn in the browser by ``static/fieldrecall/
pages.js``; the templates place them with the macros of ``templates/widgets.html``).

- A chart is a Vega-Lite spec declared with Altair: ``vega_lite(chart)`` gives the JSON
  that ``{{ widgets.chart("id", spec, "what it shows") }}`` embeds in the page.
- A map is a GeoJSON FeatureCollection: ``point()`` makes a marker (numbered when it has a
  ``label``, a dot otherwise), ``line()`` a coloured line; ``{{ widgets.map("id", fc,
  "what it shows") }}`` draws it over the tiles of ``FIELDRECALL_MAP_TILE_URL``, and the
  markers and lines show without tiles too. Text in ``title`` shows on tap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import altair as alt

# Distinct colours that stay apart in sunlight and for the common colour blindnesses
# (Okabe-Ito), for lines without a colour of their own.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def vega_lite(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's Vega-Lite spec (validated by Altair), as wide as its container, with
    type large enough to read outdoors."""
    readable = (
        chart.properties(width="container")
        .configure_axis(labelFontSize=14, titleFontSize=15)
        .configure_legend(labelFontSize=14, titleFontSize=15)
    )
    spec: dict[str, Any] = readable.to_dict()
    return spec


def point(
    lat: float,
    lon: float,
    *,
    label: str | int | None = None,
    title: str | None = None,
    color: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    """A marker; ``label`` (a stop's number) is written on it."""
    return _feature(
        {"type": "Point", "coordinates": [lon, lat]},
        label=label,
        title=title,
        color=color,
        **properties,
    )


def line(
    coordinates: Sequence[tuple[float, float]],
    *,
    title: str | None = None,
    color: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    """A line through ``(lat, lon)`` points, e.g. a technician's route of a day."""
    path = [[lon, lat] for lat, lon in coordinates]
    return _feature(
        {"type": "LineString", "coordinates": path}, title=title, color=color, **properties
    )


def feature_collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    kept = {k: v for k, v in properties.items() if v is not None}
    return {"type": "Feature", "geometry": geometry, "properties": kept}
