"""Running the bot for real: long polling, or webhook through Momento's own HTTP server."""

from __future__ import annotations

import logging

from bot.app import build_application
from bot.config import Settings

log = logging.getLogger(__name__)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.logging.level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every poll at INFO, which drowns what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def run_polling(settings: Settings) -> None:
    """Blocks until SIGINT/SIGTERM; PTB owns the event loop and the signals here."""
    application = build_application(settings)
    log.info("Momento starting (long polling against %s)", settings.telegram.base_url)
    application.run_polling(allowed_updates=["message", "edited_message", "callback_query"])
