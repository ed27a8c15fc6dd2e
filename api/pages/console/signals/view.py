"""What a signal's page shows, from detection's stored result: the batch, the threshold,
the evidence in numbers (failures and unit-days on each side of the threshold, the rate
ratio with its interval, the scan's p- and q-values, the sequential statistic) and the
iceberg (the batch's units that have not failed yet)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.errors import NotFound
from recall.campaigns import service as campaigns
from recall.detection import repository as detection
from recall.models import Campaign, Signal


@dataclass(frozen=True)
class SignalPage:
    signal: Signal
    batch_key: str
    result: dict[str, Any]
    iceberg: dict[str, Any] | None
    recalls: list[Campaign]  # the recalls declared from this signal


def signal_page(session: Session, *, signal_id: int) -> SignalPage:
    found = detection.list_signals(session, signal_id=signal_id)
    if not found:
        raise NotFound(f"no signal {signal_id}")
    signal, batch_key, result = found[0]
    return SignalPage(
        signal=signal,
        batch_key=batch_key,
        result=result,
        iceberg=result.get("iceberg"),
        recalls=[
            c
            for c in campaigns.list_campaigns(session, partner_id=None)
            if c.signal_id == signal.id
        ],
    )
