"""Momento's storage: the SQLite file (or the PostgreSQL database) and every SQL statement the product runs.

Repositories are modules of plain async functions taking ``db: Database`` first (``from storage import
customers``): customers, touchpoints, events, surveys, answers, alerts, staff, audit, privacy, state,
plus reports/exports/outreach for the staff and conversation features. Rows come back as the frozen
dataclasses of ``storage.models``.
"""

# The PostgreSQL engine registers itself with storage.db (``Database.open("postgresql://...")``).
from storage import postgres as _postgres  # noqa: F401
