"""What keeps a technician or a site from a visit on a given day: a technician's absence
(sick, training, leave) and a site closed for a day (holiday, works). The planner turns
them into days off and closed days; a re-plan treats new ones as changes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class _DayOff:
    """One day something is unavailable, why, and who said so."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class TechnicianAbsence(_DayOff, Base):
    __tablename__ = "technician_absence"

    technician_id: Mapped[int] = mapped_column(ForeignKey("technician.id"), nullable=False)

    __table_args__ = (UniqueConstraint("technician_id", "day"),)


class SiteClosure(_DayOff, Base):
    __tablename__ = "site_closure"

    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), nullable=False)

    __table_args__ = (UniqueConstraint("site_id", "day"),)
