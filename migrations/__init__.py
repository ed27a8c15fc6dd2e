"""The Alembic migrations (``versions/``, one linear history). Every model module is
imported here, so that ``Base.metadata`` knows all tables when Alembic's environment
(``env.py``) or a schema test compares them with the database."""

from __future__ import annotations

import core.events
import core.idempotency
import core.links
import core.security  # noqa: F401
import devices.models  # noqa: F401
import recall.inbox.models
import recall.models  # noqa: F401
import routing.plans.models  # noqa: F401
from core.db import Base

METADATA = Base.metadata
