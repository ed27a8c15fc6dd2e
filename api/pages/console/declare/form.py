"""The declaration form as the lead fills it in, and what it means: the form's fields
(lists as text, serial ranges one a line, the region as GeoJSON drawn on the map) become a
``CampaignIn``, or a list of problems to show beside the form. Also the form prefilled
from a signal, and the dry run's map.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.pages.widgets import PALETTE, feature_collection, point
from core.pagination import PageRequest
from devices import overview
from devices import repository as registry
from recall.campaigns.schemas import CampaignIn, DryRunOut
from recall.detection import repository as detection

SEPARATORS = re.compile(r"[\s,;]+")
RANGE = re.compile(r"^\s*(\S+?)\s*\.\.\s*(\S+)\s*$")


@dataclass
class ScopeForm:
    """The fields of the form, as text (what the lead typed, shown again on a refusal)."""

    title: str = ""
    remedy: str = ""
    batch_keys: str = ""
    models: str = ""
    serial_ranges: str = ""
    installed_from: str = ""
    installed_to: str = ""
    region: str = ""
    minutes_per_unit: str = "20"
    minutes_per_visit: str = "15"
    required_skill: str = ""
    deadline: str = ""
    priority_rule: str = "coldest_then_most_units"
    signal_id: str = ""
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> ScopeForm:
        """The form from what a browser sent (fields it did not send keep their default)."""
        form = cls()
        for f in fields(cls):
            if f.name != "problems" and f.name in data:
                setattr(form, f.name, str(data[f.name]))
        return form

    def spec(self) -> CampaignIn | None:
        """The declaration this form asks for; None (with ``problems`` filled) when the
        form does not make one."""
        self.problems = []
        body: dict[str, Any] = {
            "title": self.title.strip(),
            "remedy": self.remedy.strip(),
            "scope": self._scope(),
            "minutes_per_unit": self.minutes_per_unit.strip() or 20,
            "minutes_per_visit": self.minutes_per_visit.strip() or 15,
            "required_skill": self.required_skill.strip() or None,
            "deadline": self.deadline.strip() or None,
            "priority_rule": self.priority_rule,
            "signal_id": self.signal_id.strip() or None,
        }
        if self.problems:
            return None
        try:
            return CampaignIn.model_validate(body)
        except ValidationError as exc:
            self.problems = [_problem(error) for error in exc.errors()]
            return None

    def _scope(self) -> dict[str, Any]:
        scope: dict[str, Any] = {
            "batch_keys": _words(self.batch_keys),
            "models": _words(self.models),
            "serial_ranges": [],
            "installed_from": self.installed_from.strip() or None,
            "installed_to": self.installed_to.strip() or None,
            "region": None,
        }
        for number, line in enumerate(self.serial_ranges.splitlines(), start=1):
            if not line.strip():
                continue
            found = RANGE.match(line)
            if found is None:
                self.problems.append(
                    f"serial ranges, line {number}: write FIRST..LAST, not {line.strip()!r}"
                )
                continue
            scope["serial_ranges"].append({"first": found[1], "last": found[2]})
        if self.region.strip():
            try:
                scope["region"] = json.loads(self.region)
            except ValueError:
                self.problems.append("region: the drawn polygon could not be read; draw it again")
        return scope


def _words(text: str) -> list[str]:
    return [w for w in SEPARATORS.split(text) if w]


def _problem(error: Any) -> str:
    parts = [str(p) for p in error.get("loc", ())]
    if len(parts) > 1 and parts[0] == "scope":  # "batch keys", not "scope.batch_keys"
        parts = parts[1:]
    where = ".".join(parts) or "the form"
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{where.replace('_', ' ')}: {message}"


def from_signal(session: Session, signal_id: int) -> ScopeForm:
    """The form for a recall that answers a signal: its batch, model and threshold."""
    found = detection.list_signals(session, signal_id=signal_id)
    if not found:
        return ScopeForm(problems=[f"there is no signal {signal_id}; declare by hand"])
    signal, batch_key, result = found[0]
    batches, _ = registry.list_batches(
        session, partner_id=None, page=PageRequest(limit=1, offset=0), batch_key=batch_key
    )
    model = batches[0].model if batches else ""
    threshold = result.get("threshold_c")
    beyond = "below" if signal.direction == "below" else "above"
    cause = f"failures {beyond} {threshold:g} °C" if threshold is not None else "failures"
    return ScopeForm(
        title=f"{model} batch {batch_key}: {cause}".strip(),
        batch_keys=batch_key,
        required_skill=model,
        signal_id=str(signal.id),
    )


def dry_run_map(result: DryRunOut) -> dict[str, Any]:
    """The sites the recall would cover, one dot each, coloured per partner."""
    colour = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(result.partner_keys)}
    return feature_collection(
        point(
            s.lat,
            s.lon,
            title=f"{s.site_name} ({s.site_key}), partner {s.partner_key}: {s.units} units",
            color=colour[s.partner_key],
            site=s.site_key,
        )
        for s in result.site_counts
    )


def reference_map(session: Session, *, limit: int = 2000) -> dict[str, Any]:
    """The registry's sites (those with the most failures first, at most ``limit``), to
    draw a region around; sites with a failure are drawn last, so on top."""
    sites, _ = overview.site_overview(session, limit=limit)
    sites.sort(key=lambda s: s.failures > 0)
    return feature_collection(
        point(
            s.lat,
            s.lon,
            title=f"{s.name} ({s.site_key}), partner {s.partner_key}",
            color=PALETTE[1] if s.failures else PALETTE[0],
        )
        for s in sites
    )
