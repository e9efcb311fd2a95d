"""/metrics without its own key answers only on localhost; with the key, only to a scraper that sends it."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.api.server import create_app
from bot.config import Settings
from storage.db import Database


async def _get(settings: Settings, db: Database, client: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings, db), client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://momento") as http:
        return await http.get("/metrics", headers=headers)


async def test_without_a_key_metrics_answer_only_on_localhost(tmp_path: Path) -> None:
    settings = Settings(storage={"path": str(tmp_path / "m.db")})
    async with await Database.open(settings.storage.path) as db:
        local = await _get(settings, db, "127.0.0.1")
        remote = await _get(settings, db, "203.0.113.9")
    assert local.status_code == 200
    assert local.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(local.text)}
    assert {"momento_alerts_open", "momento_database_bytes", "momento_turn_seconds"} <= names
    assert all(name.startswith("momento_") for name in names)
    assert remote.status_code == 403 and remote.json()["error"] == "forbidden"
    assert "MOMENTO_METRICS__KEY" in remote.json()["message"]


async def test_with_a_key_every_caller_must_send_it(tmp_path: Path) -> None:
    settings = Settings(storage={"path": str(tmp_path / "m.db")}, metrics={"key": "scrape-key-123"})
    async with await Database.open(settings.storage.path) as db:
        local_without = await _get(settings, db, "127.0.0.1")
        remote_with = await _get(settings, db, "203.0.113.9", authorization="Bearer scrape-key-123")
        wrong = await _get(settings, db, "203.0.113.9", authorization="Bearer nope")
    assert local_without.status_code == 401
    assert remote_with.status_code == 200
    assert wrong.status_code == 401 and "scrape-key-123" not in wrong.text
