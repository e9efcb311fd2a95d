"""Updates PTB cannot parse are skipped with one warning, never allowed to stop the bot.

A Bot API server newer or older than PTB (a self-hosted one, say) may send an update whose JSON PTB's
``Update.de_json`` refuses. PTB's Updater then logs CRITICAL and polls the same batch again, forever: no
update after it is ever served (python-telegram-bot, ``Updater._start_polling``). Here the raw batch is
parsed one update at a time before PTB sees it; an unparseable one is dropped with one warning naming its
update_id, and the next poll's offset moves past it so Telegram forgets it.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import ApplicationBuilder, ExtBot

log = logging.getLogger(__name__)


def parseable(raw: Any, bot: Any) -> bool:
    """Whether PTB can turn *raw* into an Update (anything it raises means no)."""
    try:
        return Update.de_json(raw, bot) is not None
    except Exception:
        return False


def update_id_of(raw: Any) -> int | None:
    value = raw.get("update_id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class TolerantBot(ExtBot[Any]):
    """PTB's ExtBot whose getUpdates drops (and confirms) updates it cannot parse."""

    # The highest update_id dropped: the next getUpdates asks for what comes after it.
    _skipped_through: int | None = None

    async def get_updates(self, offset: int | None = None, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        skipped = self._skipped_through
        if skipped is not None and (offset is None or offset <= skipped):
            offset = skipped + 1
        return await super().get_updates(offset, *args, **kwargs)

    async def _post(self, endpoint: str, data: Any = None, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, data, **kwargs)
        if endpoint != "getUpdates" or not isinstance(result, list):
            return result
        kept = []
        for raw in result:
            if parseable(raw, self):
                kept.append(raw)
                continue
            update_id = update_id_of(raw)
            log.warning(
                "skipped update %s: python-telegram-bot cannot parse it (a newer or older Bot API?)",
                update_id if update_id is not None else "without an update_id",
            )
            if update_id is not None:
                object.__setattr__(self, "_skipped_through", max(update_id, self._skipped_through or 0))
        return kept


class TolerantApplicationBuilder(ApplicationBuilder[Any, Any, Any, Any, Any, Any]):
    """ApplicationBuilder that builds a TolerantBot with exactly the arguments PTB would give its ExtBot."""

    def _build_ext_bot(self) -> ExtBot[Any]:
        built = super()._build_ext_bot()
        return TolerantBot(
            token=built.token,
            base_url=built.base_url.removesuffix(built.token),
            base_file_url=built.base_file_url.removesuffix(built.token),
            private_key=None,
            defaults=built.defaults,
            arbitrary_callback_data=built.callback_data_cache is not None,
            request=built._request[1],
            get_updates_request=built._request[0],
            rate_limiter=built.rate_limiter,
            local_mode=built.local_mode,
        )
