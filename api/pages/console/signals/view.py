"""What a signal's page shows, from detection's stored result: the batch, the threshold,
the evidence in numbers (failures and unit-days on each side of the threshold, the rate
ratio with its interval, the scan's p- and q-values, the sequential statistic) and the
iceberg (the batch's units that have not failed yet)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.errors import NotFound
from recall.detection import repository as detection
from recall.models import Signal


@dataclass(frozen=True)
class SignalPage:
    signal: Signal
    batch_key: str
    result: dict[str, Any]
    iceberg: dict[str, Any] | None


def signal_page(session: Session, *, signal_id: int) -> SignalPage:
    found = detection.list_signals(session, signal_id=signal_id)
    if not found:
        raise NotFound(f"no signal {signal_id}")
    signal, batch_key, result = found[0]
    return SignalPage(
        signal=signal, batch_key=batch_key, result=result, iceberg=result.get("iceberg")
    )
