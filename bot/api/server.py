"""Momento's HTTP server: the ingestion API for the company's systems (and, mounted by the Telegram room in
webhook mode, Telegram's updates).

One Starlette app serves both, next to the bot in the same event loop (PTB's custom-webhook pattern), so an
event posted here and a message from Telegram share one database and one writer lock.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.api import ingest
from bot.api.models import (
    AlertActionIn,
    AlertOut,
    CustomerIn,
    CustomerOut,
    ErrorResponse,
    EventBatchIn,
    EventIn,
    EventResult,
    EventsResponse,
    FieldError,
    Health,
    LinkOut,
    field_errors,
)
from bot.config import Settings
from bot.recovery.alerts import Recovery
from storage import alerts as alert_repo
from storage import customers as customer_repo
from storage import events as event_repo
from storage import webhooks as webhook_repo
from storage.db import Database, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_M = TypeVar("_M", bound=BaseModel)


class ListenError(Exception):
    """The HTTP server cannot take its address (in use, not ours); the message says what to change."""


class ApiError(Exception):
    """An answer other than success, rendered as ErrorResponse JSON."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json; charset=utf-8")


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    body = ErrorResponse(error=exc.error, message=exc.message, errors=exc.errors)
    response = _json(body, exc.status)
    response.headers.update(exc.headers)
    return response


_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed"}


async def _on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no such path, wrong method) in the documented JSON error shape."""
    assert isinstance(exc, HTTPException)
    error = _HTTP_ERRORS.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal")
    if exc.status_code == 404:
        message = f"no endpoint at {request.url.path}; see /openapi.json"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    response = _json(ErrorResponse(error=error, message=message), exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _on_crash(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    body = ErrorResponse(
        error="internal",
        message="the server could not complete the request; send it again (ingestion is idempotent)",
    )
    return _json(body, 500)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes *limit* (a lying Content-Length changes nothing)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, "bad_request", "the Content-Length header is not a number") from None
        if size > limit:
            raise ApiError(413, "too_large", f"the request body is larger than {limit} bytes")
    received = bytearray()
    async for chunk in request.stream():
        received.extend(chunk)
        if len(received) > limit:
            raise ApiError(413, "too_large", f"the request body is larger than {limit} bytes")
    return bytes(received)


MAX_JSON_DEPTH = 32


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); stored, they break json_extract and /mydata later.
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deeply *value* nests lists and objects (iterative: a hostile document can't overflow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(body: bytes) -> Any:
    """The document in *body*, or ApiError 400 bad_json for anything that is not plain JSON we can store:
    invalid syntax, NaN/Infinity, integers over 4,300 digits, nesting deeper than MAX_JSON_DEPTH."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_json", "the request body is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "bad_json", f"the request body is not valid JSON: {exc}") from None
    except ValueError as exc:  # NaN/Infinity, or an integer longer than Python converts (4,300 digits)
        raise ApiError(400, "bad_json", f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(
            400, "bad_json", f"the request body nests deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise ApiError(400, "bad_json", f"the request body nests deeper than {MAX_JSON_DEPTH} levels")
    return data


async def read_json(request: Request, limit: int) -> Any:
    body = await read_body(request, limit)
    if not body.strip():
        raise ApiError(422, "invalid", "the request body is empty; send a JSON object")
    return parse_json(body)


def _validate(model: type[_M], data: Any) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid", "the request has invalid fields", field_errors(exc)) from None


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class _Keys:
    """Bearer keys; every key is compared in constant time, and all of them every time."""

    def __init__(self, settings: Settings, keys: Sequence[Any] | None = None, *, warn: bool = True) -> None:
        chosen = settings.api.keys if keys is None else keys
        self._keys = [key.get_secret_value().encode() for key in chosen if key.get_secret_value()]
        if not self._keys and warn:
            log.warning(
                "no API keys are configured (MOMENTO_API__KEYS): the ingestion API refuses every call"
            )

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    def check(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        supplied = token.strip().encode()
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(supplied, key)
        if scheme.lower() != "bearer" or not supplied or not matched:
            raise ApiError(
                401,
                "unauthorized",
                "a valid API key is required: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )


def _customer_out(customer: Any, created: bool) -> CustomerOut:
    return CustomerOut(
        id=customer.id,
        external_id=customer.external_id,
        name=customer.display_name,
        language=customer.language,
        timezone=customer.timezone,
        tier=customer.tier,
        linked=customer.telegram_chat_id is not None,
        consent=customer.consent,
        created=created,
    )


def _counts(results: list[EventResult]) -> dict[str, int]:
    counts = {"scheduled": 0, "not_scheduled": 0, "rejected": 0}
    for result in results:
        counts[result.outcome] += 1
    return counts


def create_app(
    settings: Settings,
    db: Database,
    *,
    bot_username: Callable[[], str | None] | None = None,
    extra_routes: Sequence[Route] = (),
    bot_running: Callable[[], bool] | None = None,
    clock: Clock = utcnow,
    recovery: Recovery | None = None,
) -> Starlette:
    """The ASGI app. *bot_username* names the bot for deep links; *extra_routes* mount more (the Telegram
    webhook route, from bot.telegram.webhook);
    *bot_running* lets /healthz report the bot too (a stopped bot makes it 503); *recovery* (the running
    bot's) lets a help desk acknowledge and resolve alerts, the team's card updated as by a button."""
    keys = _Keys(settings)
    metrics_key = settings.metrics.key
    metrics_keys = _Keys(settings, [metrics_key] if metrics_key is not None else [], warn=False)
    ingestor = ingest.EventIngestor(db, settings)
    limit = settings.server.max_body_bytes

    async def healthz(request: Request) -> Response:
        try:
            await db.fetch_one("SELECT 1")
            database = True
        except Exception:  # any failure means "not healthy", and the reason goes to the log
            log.exception("health check: the database does not answer")
            database = False
        bot = None if bot_running is None else bot_running()
        healthy = database and bot is not False
        health = Health(status="ok" if healthy else "degraded", database=database, bot=bot)
        return _json(health, 200 if healthy else 503)

    async def post_customer(request: Request) -> Response:
        keys.check(request)
        data = _validate(CustomerIn, await read_json(request, limit))
        customer, created = await ingest.upsert_customer(db, data)
        return _json(_customer_out(customer, created), 201 if created else 200)

    async def post_events(request: Request) -> Response:
        keys.check(request)
        payload = await read_json(request, limit)
        items: list[EventIn | list[FieldError]]
        if isinstance(payload, dict) and "events" in payload:
            batch = _validate(EventBatchIn, payload)
            items = []
            for index, raw in enumerate(batch.events):
                try:
                    items.append(EventIn.model_validate(raw))
                except ValidationError as exc:
                    items.append(field_errors(exc, prefix=("events", index)))
        else:
            if not isinstance(payload, dict):
                raise ApiError(422, "invalid", 'send one event object, or {"events": [...]} for a batch')
            items = [_validate(EventIn, payload)]
        results = await ingestor.ingest(items, now=clock())
        return _json(EventsResponse(results=results, counts=_counts(results)))

    async def get_link(request: Request) -> Response:
        """GET: the customer's current link; POST: a fresh one that revokes every earlier link (the explicit
        act that moves a linked customer to a new Telegram account)."""
        keys.check(request)
        external_id = request.path_params["external_id"]
        wanted = request.query_params.get("format", "json")
        if wanted not in ("json", "png"):
            raise ApiError(
                422,
                "invalid",
                "the request has invalid fields",
                [FieldError(path="query.format", message="must be json or png", type="enum")],
            )
        customer = await customer_repo.get_by_external_id(db, external_id)
        if customer is None or customer.erased_at is not None:
            raise ApiError(404, "not_found", f"no customer with external id {external_id!r}")
        username = bot_username() if bot_username is not None else None
        event_id: int | None = None
        event_external_id = request.query_params.get("event")
        if event_external_id:
            # A link for one event starts that survey at once when opened (a QR code on the delivery note).
            event = await event_repo.get_event_by_external_id(db, event_external_id)
            if event is None or event.customer_id != customer.id:
                raise ApiError(
                    404, "not_found", f"customer {external_id!r} has no event {event_external_id!r}"
                )
            event_id = event.id
        if request.method == "POST":
            if not username:
                raise ApiError(503, "link_unavailable", "the bot's username is not known yet")
            generation = await customer_repo.reissue_link(db, customer.id, actor="api")
        else:
            generation = await customer_repo.link_generation(db, customer.id)
        try:
            link = ingest.customer_link(
                settings,
                customer,
                bot_username=username,
                now=clock(),
                event_id=event_id,
                generation=generation,
            )
        except ingest.LinkUnavailableError as exc:
            raise ApiError(503, "link_unavailable", str(exc)) from None
        if wanted == "png":
            return Response(
                link.qr_png,
                media_type="image/png",
                headers={"Content-Disposition": f'inline; filename="momento-{customer.id}.png"'},
            )
        return _json(
            LinkOut(
                customer_external_id=customer.external_id,
                link=link.url,
                payload=link.payload,
                expires_at=link.expires_at,
                qr_png_base64=base64.b64encode(link.qr_png).decode("ascii"),
            )
        )

    async def alert_action(request: Request) -> Response:
        keys.check(request)
        action = request.path_params["action"]
        if action not in ("acknowledge", "resolve"):
            raise ApiError(404, "not_found", f"no endpoint at {request.url.path}; see /openapi.json")
        body = await read_body(request, limit)
        data = _validate(AlertActionIn, parse_json(body) if body.strip() else {})
        assert recovery is not None  # the route exists only next to the running bot
        alert_id = request.path_params["alert_id"]
        # Ids are SQLite integers: anything outside 1..2**63-1 names no alert (and must not reach SQLite).
        if not 0 < alert_id < 2**63 or await alert_repo.get_alert(db, alert_id) is None:
            raise ApiError(404, "not_found", f"no alert with id {alert_id}")
        changed = await recovery.act(
            alert_id,
            "ack" if action == "acknowledge" else "res",
            user_id=data.staff_user_id,
            source="api",
            notes=data.notes,
        )
        if changed is None:
            current = await alert_repo.get_alert(db, alert_id)
            status = current.status if current else "unknown"
            raise ApiError(409, "conflict", f"alert {alert_id} is already {status}; nothing changed")
        customer = await customer_repo.get_customer(db, changed.customer_id)
        return _json(
            AlertOut(
                id=changed.id,
                status=changed.status,
                severity=changed.severity,
                reason=changed.reason,
                customer_external_id=customer.external_id if customer else None,
                callback_requested=changed.callback_requested,
                assignee_user_id=changed.assignee_user_id,
                notes=changed.notes,
                created_at=changed.created_at,
                acknowledged_at=changed.acknowledged_at,
                resolved_at=changed.resolved_at,
                card_updated=await recovery.card_shows(alert_id),
            )
        )

    async def metrics_page(request: Request) -> Response:
        """Prometheus text: MOMENTO_METRICS__KEY as bearer key, or without one from localhost only."""
        if metrics_keys.configured:
            metrics_keys.check(request)
        elif request.client is None or request.client.host not in LOOPBACK:
            raise ApiError(
                403,
                "forbidden",
                "/metrics answers only on localhost unless MOMENTO_METRICS__KEY is set (then send it as a "
                "bearer key)",
            )
        await _refresh_gauges(db)
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_schema(settings, alert_actions=recovery is not None))

    async def docs(request: Request) -> Response:
        return HTMLResponse(_docs_page(openapi_schema(settings, alert_actions=recovery is not None)))

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/v1/customers", post_customer, methods=["POST"]),
        Route("/v1/events", post_events, methods=["POST"]),
        # external ids may contain "/" (the model allows it), so the id is matched as a path.
        Route("/v1/customers/{external_id:path}/link", get_link, methods=["GET", "POST"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
    if recovery is not None:
        # Alert actions need the bot that owns the team's cards: served only next to it (momento run).
        routes.append(Route("/v1/alerts/{alert_id:int}/{action}", alert_action, methods=["POST"]))
    routes.extend(extra_routes)
    return Starlette(
        routes=routes,
        exception_handlers={ApiError: _on_api_error, HTTPException: _on_http_error, Exception: _on_crash},
    )


async def _refresh_gauges(db: Database) -> None:
    """The figures that live in the database, read at each scrape."""
    metrics.ALERTS_OPEN.set(await alert_repo.count_open_alerts(db))
    counts = await webhook_repo.counts(db)
    for gauge in (metrics.WEBHOOKS_PENDING, metrics.WEBHOOKS_FAILED):
        gauge.clear()
    for name, found in counts.items():
        metrics.WEBHOOKS_PENDING.labels(name).set(found.pending)
        metrics.WEBHOOKS_FAILED.labels(name).set(found.failed)
    metrics.DATABASE_BYTES.set(
        await db.size_bytes() if db.engine == "postgresql" else _database_bytes(db.path)
    )


def _database_bytes(path: Path) -> int:
    """The main file and its write-ahead log (a stat each: no thread needed)."""
    size = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            size += Path(f"{path}{suffix}").stat().st_size
    return size


# --- OpenAPI -------------------------------------------------------------------------------------------


def openapi_schema(settings: Settings, *, alert_actions: bool = True) -> dict[str, Any]:
    """OpenAPI 3.1 built from the same pydantic models that validate requests, so the two cannot drift."""
    from pydantic.json_schema import models_json_schema

    models: list[type[BaseModel]] = [
        CustomerIn,
        CustomerOut,
        EventIn,
        EventBatchIn,
        EventResult,
        EventsResponse,
        LinkOut,
        ErrorResponse,
        Health,
        AlertActionIn,
        AlertOut,
    ]
    _, top = models_json_schema(
        [(model, "validation" if model.__name__.endswith("In") else "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    schemas = top.get("$defs", {})

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    def body(name: str | dict[str, Any]) -> dict[str, Any]:
        schema = ref(name) if isinstance(name, str) else name
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def answer(description: str, name: str | None = None, media: str = "application/json") -> dict[str, Any]:
        result: dict[str, Any] = {"description": description}
        if name is not None:
            result["content"] = {media: {"schema": ref(name)}}
        return result

    errors = {
        "400": answer("The body is not plain JSON (error bad_json)", "ErrorResponse"),
        "401": answer("Missing or wrong API key", "ErrorResponse"),
        "413": answer(f"Body larger than {settings.server.max_body_bytes} bytes", "ErrorResponse"),
        "422": answer("Invalid fields, each with its path", "ErrorResponse"),
    }
    secured: list[dict[str, list[str]]] = [{"bearer": []}]

    def link_operation(summary: str) -> dict[str, Any]:
        return {
            "summary": summary,
            "security": secured,
            "parameters": [
                {
                    "name": "external_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "the customer's external id (may contain '/')",
                },
                {
                    "name": "event",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "an event's external id: the link then starts its survey at once",
                },
                {
                    "name": "format",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["json", "png"]},
                    "description": "png returns the QR code image itself",
                },
            ],
            "responses": {
                "200": {
                    "description": "The link (JSON) or the QR code (PNG)",
                    "content": {
                        "application/json": {"schema": ref("LinkOut")},
                        "image/png": {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "401": errors["401"],
                "404": answer("Unknown customer or event", "ErrorResponse"),
                "422": answer("Invalid query parameter", "ErrorResponse"),
                "503": answer("Links are not configured", "ErrorResponse"),
            },
        }

    def alert_operation(verb: str) -> dict[str, Any]:
        return {
            "summary": f"A help desk can {verb} an alert; the team's card in Telegram is updated",
            "security": secured,
            "parameters": [
                {
                    "name": "alert_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                }
            ],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": ref("AlertActionIn")}},
            },
            "responses": {
                "200": answer("The alert as it is now", "AlertOut"),
                "404": answer("Unknown alert", "ErrorResponse"),
                "409": answer("Already acknowledged or resolved: nothing changed", "ErrorResponse"),
                **errors,
            },
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Momento ingestion API",
            "version": "1",
            "description": "Tell Momento about customers and their touchpoints; it schedules the surveys.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/customers": {
                "post": {
                    "summary": "Create or update a customer (idempotent on external_id)",
                    "security": secured,
                    "requestBody": body("CustomerIn"),
                    "responses": {
                        "201": answer("Created", "CustomerOut"),
                        "200": answer("Updated", "CustomerOut"),
                        **errors,
                    },
                }
            },
            "/v1/events": {
                "post": {
                    "summary": "Record one event or a batch; per event the survey scheduled or why none was",
                    "security": secured,
                    "requestBody": body({"oneOf": [ref("EventIn"), ref("EventBatchIn")]}),
                    "responses": {"200": answer("One result per event", "EventsResponse"), **errors},
                }
            },
            "/v1/customers/{external_id}/link": {
                "get": link_operation("The customer's signed deep link and its QR code"),
                "post": link_operation(
                    "Issue a fresh deep link that revokes every earlier one (moves the customer to the "
                    "Telegram account that opens it)"
                ),
            },
            **(
                {
                    "/v1/alerts/{alert_id}/acknowledge": {"post": alert_operation("acknowledge")},
                    "/v1/alerts/{alert_id}/resolve": {"post": alert_operation("resolve")},
                }
                if alert_actions
                else {}
            ),
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (bearer MOMENTO_METRICS__KEY; without it: localhost only)",
                    "responses": {
                        "200": {"description": "Prometheus text format", "content": {"text/plain": {}}},
                        "401": answer("Missing or wrong metrics key", "ErrorResponse"),
                        "403": answer(
                            "No metrics key is configured and the caller is not local", "ErrorResponse"
                        ),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and database check",
                    "responses": {
                        "200": answer("Healthy", "Health"),
                        "503": answer("Database not answering", "Health"),
                    },
                }
            },
        },
    }


def _docs_page(schema: dict[str, Any]) -> str:
    """A dependency-free page (no CDN: servers often have no internet) listing the endpoints."""
    rows = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            rows.append(
                f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}</code></td>"
                f"<td>{escape(operation.get('summary', ''))}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Momento API</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td{padding:.3em .8em}</style>"
        "</head><body><h1>Momento ingestion API</h1>"
        "<p>Send <code>Authorization: Bearer &lt;key&gt;</code> on every <code>/v1</code> call. "
        "The full schema is at <a href='/openapi.json'>/openapi.json</a>.</p>"
        f"<table>{''.join(rows)}</table></body></html>"
    )


# --- serving -------------------------------------------------------------------------------------------


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner decides how the whole process stops."""

    @contextmanager
    def capture_signals(self) -> Any:
        yield


@asynccontextmanager
async def serving(app: Starlette, host: str, port: int) -> AsyncIterator[tuple[_QuietServer, str]]:
    """Serve *app* in this event loop until the block ends; port 0 picks a free one. Yields the base URL."""
    import asyncio

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(
            f"cannot listen on {host}:{port} ({exc.strerror}); change [server] port or host, "
            "or set server.enabled = false"
        ) from exc
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the HTTP server stopped during start-up")
            await asyncio.sleep(0.01)
        shown = f"[{host}]" if ":" in host else host
        yield server, f"http://{shown}:{bound_port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
