"""[logging] format = "json": one JSON object per line, secrets still redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.telegram.runner import configure_logging


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    try:
        yield
    finally:
        root.handlers = saved


def test_json_logs_are_one_object_per_line_without_secrets(root_handlers: None) -> None:
    settings = Settings(
        logging={"format": "json"},
        telegram={"token": "123456:SECRET-TOKEN-VALUE"},
        webhook_secrets={"crm": "whsec-very-secret"},
        metrics={"key": "metrics-secret-key"},
    )
    configure_logging(settings)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    log = logging.getLogger("momento.test")
    log.warning("calling https://api/bot%s with %s", "123456:SECRET-TOKEN-VALUE", "whsec-very-secret")
    try:
        raise RuntimeError("metrics-secret-key leaked\nsecond line")
    except RuntimeError:
        log.exception("it failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING" and first["logger"] == "momento.test"
    assert first["message"] == "calling https://api/bot**** with ****"
    assert second["message"] == "it failed" and "RuntimeError" in second["exception"]
    text = stream.getvalue()
    for secret in ("SECRET-TOKEN-VALUE", "whsec-very-secret", "metrics-secret-key"):
        assert secret not in text
