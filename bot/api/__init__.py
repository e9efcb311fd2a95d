"""The HTTP API for a company's systems: the Starlette server (``server``), its request and response models
(``models``), ingestion of customers and touchpoint events (``ingest``) and CSV import (``importing``).

Plain async code over storage and outreach; the Telegram webhook route is mounted here by the Telegram room,
so this package never imports ``telegram``.
"""
