"""The demo's planning step: plan a declared recall from tomorrow on, solve it here (the
demo has no worker running yet), publish it, and say what came out."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from api.cli_plan import describe_plan
from core.db import transaction
from core.settings import get_settings
from recall.planning_inputs import campaign_for_planning, visits_for_planning
from routing import plans
from routing.plan_run import run_plan
from routing.planner import planning_timezone, technicians_for

DEMO_SECONDS = 45.0
# On-site hours one technician gets through in a day, net of driving (the demo's region
# is wide: about as much driving as work). Only sizes the horizon.
SITE_HOURS_PER_DAY = 3.5


def demo_horizon(campaign_id: int, today: date | None = None) -> tuple[date, date]:
    """From tomorrow, enough calendar days for the skilled technicians to visit every
    site at the demo's pace, plus a margin."""
    settings = get_settings()
    with transaction() as session:
        campaign = campaign_for_planning(session, campaign_id=campaign_id)
        visits = visits_for_planning(session, campaign_id=campaign_id)
        techs = technicians_for(session, campaign.required_skill)
    zone = planning_timezone(settings, visits)
    first = (today or datetime.now(ZoneInfo(zone)).date()) + timedelta(days=1)
    hours = sum(v.estimated_minutes for v in visits) / 60
    workdays = math.ceil(hours / max(1, len(techs)) / SITE_HOURS_PER_DAY)
    days = min(settings.plan_max_days, math.ceil(workdays * 7 / 5) + 3)
    return first, first + timedelta(days=days - 1)


def plan_and_publish(
    campaign_id: int, *, seconds: float = DEMO_SECONDS, today: date | None = None
) -> list[str]:
    """Plan, solve inline, publish; returns the lines ``make demo`` prints."""
    first_day, last_day = demo_horizon(campaign_id, today)
    with transaction() as session:
        plan = plans.start_plan(
            session,
            campaign_id=campaign_id,
            first_day=first_day,
            last_day=last_day,
            seconds=seconds,
            actor="demo",
            settings=get_settings(),
            enqueue=False,
        )
    run_plan(plan.id)
    with transaction() as session:
        detail = plans.plan_detail(session, plan_id=plan.id)
    lines = ["  " + line for line in describe_plan(detail)]
    if detail.status != "done":
        return lines
    with transaction() as session:
        out = plans.publish(session, plan_id=plan.id, actor="demo")
    lines.append(
        f"  plan {plan.id} published: {len(out.new)} visits scheduled, partners told the "
        "date and arrival window (outbox)"
    )
    return lines
