"""Helpers shared by several test modules: seeded report data, an inbox messenger, the repository root."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
