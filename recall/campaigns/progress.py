"""A campaign's progress over time, read from the audit trail: for every day from the
declaration to today, how many units the campaign held and how many of them were in a
final state (and fixed) at the day's end. The console draws it as a burn-down.

Every move of a campaign unit is an event (``entered``, then ``state_changed`` with its
from and to states), so the counts at any day's end follow from the events up to it: a
move into a final state adds one, a move out of one (a re-opened unit) takes one away.
Days are UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from recall.models import FINAL_UNIT_STATES

# Per UTC day: units that entered, net moves into a final state, net moves into fixed.
# The prefix of entity_key ("<campaign id>:") picks the campaign's units; with the
# database's C collation it is a range scan of the event index.
DAILY_MOVES = text(
    """
    SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day,
           count(*) FILTER (WHERE action = 'entered') AS entered,
           count(*) FILTER (WHERE to_state = ANY(:final)
                            AND coalesce(from_state <> ALL(:final), true))
         - count(*) FILTER (WHERE from_state = ANY(:final)
                            AND coalesce(to_state <> ALL(:final), true)) AS finished,
           count(*) FILTER (WHERE to_state = 'fixed'
                            AND coalesce(from_state <> 'fixed', true))
         - count(*) FILTER (WHERE from_state = 'fixed'
                            AND coalesce(to_state <> 'fixed', true)) AS fixed
    FROM event
    WHERE entity = 'campaign_unit' AND entity_key LIKE :prefix
    GROUP BY 1
    ORDER BY 1
    """
)


@dataclass(frozen=True)
class DayProgress:
    day: date
    units: int  # in the campaign at the day's end
    final: int  # of them, in a final state
    fixed: int

    @property
    def open(self) -> int:
        """Units still to be dealt with: what a burn-down burns down."""
        return self.units - self.final


def burn_down(
    session: Session, *, campaign_id: int, declared_on: date, today: date
) -> list[DayProgress]:
    """One entry per day from ``declared_on`` to ``today`` (both included)."""
    moves = {
        day: (int(entered), int(finished), int(fixed))
        for day, entered, finished, fixed in session.execute(
            DAILY_MOVES, {"final": list(FINAL_UNIT_STATES), "prefix": f"{campaign_id}:%"}
        )
    }
    last = max([today, *moves])
    units = final = fixed = 0
    # Moves dated before the declaration day (none, but for clocks that disagree) count
    # from the first day on.
    for day in [d for d in moves if d < declared_on]:
        entered, finished, fixed_n = moves.pop(day)
        units, final, fixed = units + entered, final + finished, fixed + fixed_n
    out = []
    day = declared_on
    while day <= last:
        entered, finished, fixed_n = moves.get(day, (0, 0, 0))
        units, final, fixed = units + entered, final + finished, fixed + fixed_n
        out.append(DayProgress(day=day, units=units, final=final, fixed=fixed))
        day += timedelta(days=1)
    return out
