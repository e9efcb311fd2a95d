"""No secret in a log line: the filter the CLI installs redacts messages, arguments and tracebacks."""

from __future__ import annotations

import logging
import subprocess
import sys

from bot.config import REDACTED, Settings, secret_values

TOKEN = "123456:AAH-secret-half-of-the-token"
SIGNING = "signing-key-0123456789"
API = "api-key-abcdef"


def test_every_secret_and_the_secret_half_of_the_token_are_known() -> None:
    settings = Settings(telegram={"token": TOKEN}, links={"signing_key": SIGNING}, api={"keys": [API, "x"]})
    found = secret_values(settings)
    assert {TOKEN, "AAH-secret-half-of-the-token", SIGNING, API} <= set(found)
    assert "x" not in found  # too short to redact without blanking ordinary text


def test_log_lines_and_tracebacks_of_any_logger_are_redacted() -> None:
    # A fresh interpreter: the CLI's own set-up (CliState.settings installs the filter), then logging from
    # PTB-like and our loggers, arguments, an exception quoting the token, and the last-resort handler.
    program = f"""
import logging
from bot.config import Settings, install_redaction
logging.basicConfig(level=logging.INFO)
install_redaction(Settings(telegram={{"token": {TOKEN!r}}}, links={{"signing_key": {SIGNING!r}}}))
logging.getLogger("httpx").warning("POST https://api.telegram.org/bot%s/getMe", {TOKEN!r})
logging.getLogger("bot.x").info("key " + {SIGNING!r})
try:
    raise RuntimeError("The token `{TOKEN}` was rejected")
except RuntimeError:
    logging.getLogger("telegram.ext").exception("failed")
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    output = result.stdout + result.stderr
    assert TOKEN not in output and "AAH-secret-half-of-the-token" not in output and SIGNING not in output
    assert output.count(REDACTED) == 3 and "Traceback" in output and "getMe" in output


def test_a_record_is_redacted_by_the_filter_itself() -> None:
    from bot.config import RedactSecrets

    record = logging.LogRecord("t", logging.INFO, __file__, 1, "token %s", (TOKEN,), None)
    RedactSecrets([TOKEN]).filter(record)
    assert record.getMessage() == f"token {REDACTED}"


def test_a_malformed_secret_is_named_but_never_repeated() -> None:
    from click.testing import CliRunner

    from bot.cli.main import main
    from tests.unit.cli.test_cli import EXAMPLE

    for keys in ("not-json-secret-value", '["a-valid-secret-key", 5]'):
        result = CliRunner().invoke(
            main, ["--config", str(EXAMPLE), "check-config"], env={"MOMENTO_API__KEYS": keys}
        )
        assert result.exit_code != 0
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: ") and "api" in lines[0].lower()
        assert "not-json-secret-value" not in result.output and "a-valid-secret-key" not in result.output
