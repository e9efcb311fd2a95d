"""Telegram's updates in webhook mode: one route mounted on Momento's HTTP server, accepted only with the
secret token given to setWebhook (PTB's custom-webhook pattern, examples/customwebhookbot)."""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update

from bot.api.server import ApiError, read_json
from bot.config import Settings
from bot.telegram.services import MomentoApplication
from bot.telegram.updates import update_id_of

log = logging.getLogger(__name__)

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name, not a secret


def webhook_route(settings: Settings, application: MomentoApplication) -> Route:
    secret = settings.webhook.secret_token
    if secret is None or not secret.get_secret_value():
        raise ValueError("webhook mode needs webhook.secret_token (MOMENTO_WEBHOOK__SECRET_TOKEN)")
    expected = secret.get_secret_value().encode()
    limit = settings.server.max_body_bytes

    async def telegram_update(request: Request) -> Response:
        supplied = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(supplied, expected):
            log.warning("webhook request without the right secret token from %s", request.client)
            raise ApiError(403, "forbidden", "wrong or missing X-Telegram-Bot-Api-Secret-Token")
        data = await read_json(request, limit)
        try:
            update = Update.de_json(data, application.bot)
        except Exception:  # PTB raises assorted errors on updates it cannot parse
            update = None
        if update is None:
            # 200, or Telegram sends it again and again; one warning, and the bot goes on.
            found = update_id_of(data)
            log.warning(
                "skipped update %s: python-telegram-bot cannot parse it (a newer or older Bot API?)",
                found if found is not None else "without an update_id",
            )
            return Response(status_code=200)
        await application.update_queue.put(update)
        return Response(status_code=200)

    return Route(settings.webhook.path, telegram_update, methods=["POST"])
