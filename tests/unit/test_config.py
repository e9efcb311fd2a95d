"""Settings: TOML plus environment, secrets kept out of files and output, one clear line on any mistake."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from tests.support import REPO as REPO_DIR

REPO = REPO_DIR
EXAMPLE = REPO / "config.example.toml"
TOKEN = "123456:SECRET-token-value"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write(
        tmp_path / "config.toml",
        "[telegram]\nstaff_chat_id = -100200\nadmin_user_ids = [1, 2]\n\n"
        '[survey]\ndefault_language = "es"\nfrequency_cap = "7d"\n',
    )


def test_the_toml_is_read_and_the_environment_overrides_it(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(config)
    assert settings.telegram.staff_chat_id == -100200
    assert settings.telegram.admin_user_ids == [1, 2]
    assert settings.survey.frequency_cap == timedelta(days=7)
    monkeypatch.setenv("MOMENTO_TELEGRAM__STAFF_CHAT_ID", "-100300")
    monkeypatch.setenv("MOMENTO_SURVEY__DEFAULT_LANGUAGE", "en")
    overridden = load_settings(config)
    assert overridden.telegram.staff_chat_id == -100300
    assert overridden.survey.default_language == "en"
    assert overridden.telegram.admin_user_ids == [1, 2]  # untouched values still come from the file


def test_the_config_path_comes_from_momento_config(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOMENTO_CONFIG", str(config))
    assert load_settings().telegram.staff_chat_id == -100200


def test_the_token_comes_from_the_environment_and_is_never_shown(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOMENTO_TELEGRAM__TOKEN", TOKEN)
    settings = load_settings(config)
    assert settings.require_token().get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    masked = settings.masked()
    assert masked["telegram"]["token"] == "**** (set)"
    assert TOKEN not in json.dumps(masked)


@pytest.mark.parametrize(
    ("section", "line", "field"),
    [
        ("telegram", f'token = "{TOKEN}"', "telegram.token"),
        ("links", 'signing_key = "hunter2-hunter2"', "links.signing_key"),
        ("api", 'keys = ["k1"]', "api.keys"),
        ("webhook", 'secret_token = "s3cret"', "webhook.secret_token"),
        ("storage", 'password = "pg-s3cret"', "storage.password"),
    ],
)
def test_secrets_in_the_toml_are_refused_without_echoing_them(
    tmp_path: Path, section: str, line: str, field: str
) -> None:
    path = write(tmp_path / "config.toml", f"[{section}]\n{line}\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    message = str(refused.value)
    assert field in message and str(path) in message
    assert "MOMENTO_" + field.upper().replace(".", "__") in message  # says where it belongs instead
    assert line.split("=", 1)[1].strip().strip('"[]') not in message
    assert "\n" not in message


def test_a_secrets_file_provides_secrets_and_the_environment_wins(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = write(
        tmp_path / "secrets.env",
        f"MOMENTO_TELEGRAM__TOKEN={TOKEN}\nMOMENTO_LINKS__SIGNING_KEY=from-the-file\n",
    )
    settings = load_settings(config, secrets_file=secrets)
    assert settings.require_token().get_secret_value() == TOKEN
    assert settings.links.signing_key is not None
    monkeypatch.setenv("MOMENTO_LINKS__SIGNING_KEY", "from-the-environment")
    monkeypatch.setenv("MOMENTO_SECRETS_FILE", str(secrets))
    settings = load_settings(config)
    assert settings.links.signing_key is not None
    assert settings.links.signing_key.get_secret_value() == "from-the-environment"
    assert settings.require_token().get_secret_value() == TOKEN


def test_a_missing_secrets_file_names_the_file(config: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="secrets file not found") as refused:
        load_settings(config, secrets_file=tmp_path / "nowhere.env")
    assert "nowhere.env" in str(refused.value)


@pytest.mark.parametrize(
    ("toml", "field", "detail"),
    [
        ('[telegram]\nstaff_chat_id = "the team"\n', "telegram.staff_chat_id", "the team"),
        ("[server]\nport = 70000\n", "server.port", "70000"),
        ('[survey]\nfrequency_cap = "soon"\n', "survey.frequency_cap", "soon"),
        ('[survey]\ndefault_timezone = "Mars/Olympus"\n', "survey.default_timezone", "Mars/Olympus"),
        ('[telegram]\nbase_url = "http://127.0.0.1:8081"\n', "telegram.base_url", "/bot"),
        ("[telegram]\nstaf_chat_id = 1\n", "telegram.staf_chat_id", "unknown setting"),
        ('[storage]\nurl = "mysql://db/momento"\n', "storage", "postgresql://user@host:port/dbname"),
        ('[storage]\nurl = "postgresql://bot:pw@db/momento"\n', "storage", "MOMENTO_STORAGE__PASSWORD"),
        ('[storage]\nurl = "postgresql://bot@db"\n', "storage", "postgresql://user@host:port/dbname"),
    ],
)
def test_a_wrong_value_fails_with_one_line_naming_the_field_and_the_file(
    tmp_path: Path, toml: str, field: str, detail: str
) -> None:
    path = write(tmp_path / "config.toml", toml)
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    message = str(refused.value)
    assert "\n" not in message
    assert field in message and str(path) in message and detail in message


def test_a_missing_file_fails_with_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as refused:
        load_settings(missing)
    message = str(refused.value)
    assert str(missing) in message and "not found" in message and "\n" not in message


def test_broken_toml_fails_with_one_line_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[telegram\nmode = polling\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    assert str(path) in str(refused.value) and "\n" not in str(refused.value)


def test_a_missing_token_is_named_when_it_is_needed(config: Path) -> None:
    settings = load_settings(config)
    with pytest.raises(ConfigError, match=r"telegram\.token is missing.*MOMENTO_TELEGRAM__TOKEN"):
        settings.require_token()


def test_the_example_config_loads_with_its_touchpoint_map() -> None:
    settings = load_settings(EXAMPLE)
    keys = [touchpoint.key for touchpoint in settings.touchpoints]
    assert keys == ["purchase", "online_order", "delivery", "support_call", "store_visit"]
    assert all(touchpoint.name("es") for touchpoint in settings.touchpoints)
    assert settings.telegram.token is None  # secrets are not in the example


def test_the_packaged_example_is_the_documented_one() -> None:
    """`momento init` copies the packaged copy; it must not drift from the one the README shows."""
    assert (REPO / "bot" / "config.example.toml").read_text(encoding="utf-8") == EXAMPLE.read_text(
        encoding="utf-8"
    )


@pytest.mark.parametrize(
    ("url", "engine", "target"),
    [
        (None, "sqlite", Path("momento.db")),
        ("sqlite:///data/momento.db", "sqlite", Path("data/momento.db")),
        ("sqlite:////var/lib/momento/momento.db", "sqlite", Path("/var/lib/momento/momento.db")),
        ("/srv/momento.db", "sqlite", Path("/srv/momento.db")),
        ("postgresql://momento@db:5432/momento", "postgresql", "postgresql://momento@db:5432/momento"),
    ],
)
def test_storage_url_names_the_engine_and_a_bare_path_is_still_sqlite(
    tmp_path: Path, url: str | None, engine: str, target: object
) -> None:
    path = write(tmp_path / "config.toml", f'[storage]\nurl = "{url}"\n' if url else "")
    storage = load_settings(path).storage
    assert storage.engine == engine and storage.target == target
    if engine == "sqlite":
        assert storage.path == target


def test_the_database_password_comes_from_the_environment_and_is_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "config.toml", '[storage]\nurl = "postgresql://momento@db:5432/momento"\n')
    monkeypatch.setenv("MOMENTO_STORAGE__PASSWORD", "pg-s3cret-value")
    settings = load_settings(path)
    assert settings.storage.password_value == "pg-s3cret-value"
    masked = settings.masked()
    assert masked["storage"]["password"] == "**** (set)"
    assert "pg-s3cret-value" not in json.dumps(masked) and "pg-s3cret-value" not in repr(settings)
