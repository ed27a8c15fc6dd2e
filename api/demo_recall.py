"""The demo's recall step: declare a recall for every batch that detection flagged (from
its signal, after a dry run), then show the ledger. A batch already under an active recall
(a re-run of the demo) is left as it is."""

from __future__ import annotations

from sqlalchemy import select

from api.cli_recall import describe_ledger
from core.db import transaction
from devices.models import Batch
from recall import campaigns, ledger
from recall.campaign_models import Campaign
from recall.campaign_schemas import CampaignIn, Scope
from recall.models import Signal


def declare_flagged(*, actor: str = "demo") -> tuple[list[int], list[str]]:
    """Declare one recall per new signal; returns the campaign ids (new or already
    active) and the lines ``make demo`` prints."""
    lines: list[str] = []
    campaign_ids: list[int] = []
    with transaction() as session:
        signals = session.execute(
            select(Signal.id, Batch.batch_key, Batch.model)
            .join(Batch, Batch.id == Signal.batch_id)
            .where(Signal.status == "new")
            .order_by(Batch.batch_key)
        ).all()
        active = {
            key: c.id
            for c in session.scalars(select(Campaign).where(Campaign.status == "active"))
            for key in c.scope.get("batch_keys", [])
        }
    for signal_id, batch_key, model in signals:
        if batch_key in active:
            lines.append(f"  batch {batch_key} is already under recall {active[batch_key]}")
            campaign_ids.append(active[batch_key])
            continue
        spec = CampaignIn(
            title=f"{model} batch {batch_key}: failures in the cold",
            scope=Scope(batch_keys=[batch_key]),
            remedy="Replace the power-supply board with the cold-rated revision and "
            "run the self-test.",
            required_skill=model,
            signal_id=signal_id,
        )
        with transaction() as session:
            preview = campaigns.dry_run(session, spec=spec)
        lines.append(
            f"  recall dry run for {batch_key}: {preview.units} units at {preview.sites} "
            f"sites of {preview.partners} partners"
        )
        with transaction() as session:
            campaign = campaigns.declare(
                session, spec=spec, actor=actor, idempotency_key=f"demo:signal:{signal_id}"
            )
            result = ledger.campaign_ledger(session, campaign_id=campaign.id, partner_id=None)
        campaign_ids.append(campaign.id)
        lines.append(f"  recall {campaign.id} declared for batch {batch_key}")
        lines.extend("  " + line for line in describe_ledger(result).splitlines())
    return campaign_ids, lines
