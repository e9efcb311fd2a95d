"""Momento's storage: the one SQLite file and every SQL statement the product runs.

Repositories are modules of plain async functions taking ``db: Database`` first (``from storage import
customers``): customers, touchpoints, events, surveys, answers, alerts, staff, audit, privacy, state,
plus reports/exports/outreach for the staff and conversation features. Rows come back as the frozen
dataclasses of ``storage.models``.
"""
