"""The long-lived resources one running bot owns, opened in post_init and closed in post_shutdown.

Handlers reach them through ``services(context)``; nothing here is a module-level singleton, so two
Applications (a restart test, the demo) never share state by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from sentiment import Classifier
from storage.db import Database

BOT_DATA_KEY = "momento.services"


@dataclass
class Services:
    settings: Settings
    db: Database
    classifier: Classifier
    # Whether post_shutdown closes the classifier (False when a caller lent us a preloaded one).
    owns_classifier: bool = True
    # Feature-owned components built by the composition root (survey engine, outreach clock, ...).
    components: dict[str, Any] = field(default_factory=dict)


def services(holder: Any) -> Services:
    """The Services of a PTB context or Application (anything with ``bot_data``)."""
    found = holder.bot_data.get(BOT_DATA_KEY)
    if not isinstance(found, Services):
        raise RuntimeError("Momento services are not open yet (post_init has not run)")
    return found
