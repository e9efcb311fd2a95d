"""The classifier settings read from a Momento config file without the bot: the same ones the bot reads."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from bot.config import load_settings
from sentiment import evaluate
from sentiment.settings import ClassifierSettings, load_classifier_settings
from tests.support import REPO as REPO_DIR

REPO = REPO_DIR


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    example = (REPO / "config.example.toml").read_text(encoding="utf-8")
    changed = example.replace("\nbatch_size = 32\n", "\nbatch_size = 8\n", 1)
    changed = changed.replace('\nruntime = "auto"\n', '\nruntime = "torch"\n', 1)
    assert changed.count("batch_size = 8") == changed.count('runtime = "torch"') == 1
    path.write_text(changed, encoding="utf-8")
    return path


def test_the_sentiment_table_and_its_environment_as_the_bot_reads_them(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_classifier_settings(config)
    assert (loaded.runtime, loaded.batch_size) == ("torch", 8)
    assert loaded == load_settings(config).sentiment

    monkeypatch.setenv("MOMENTO_SENTIMENT__BATCH_SIZE", "16")
    monkeypatch.setenv("momento_sentiment__heads_path", "/models/heads.npz")
    loaded = load_classifier_settings(config)
    assert (loaded.runtime, loaded.batch_size, loaded.heads_path) == ("torch", 16, "/models/heads.npz")
    assert loaded == load_settings(config).sentiment


def test_a_file_without_a_sentiment_table_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[telegram]\nstaff_chat_id = -100200\n", encoding="utf-8")
    assert load_classifier_settings(path) == ClassifierSettings() == load_settings(path).sentiment


def test_evaluate_loads_the_model_the_config_file_names(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[ClassifierSettings] = []

    def load_model(settings: ClassifierSettings) -> Any:
        loaded.append(settings)
        return SimpleNamespace(model_id="fake", model_version="1")

    monkeypatch.setattr(evaluate, "load_model", load_model)
    monkeypatch.setattr(evaluate, "load", lambda name, data_dir, split: [])
    result = CliRunner().invoke(
        evaluate.main, ["--data", str(tmp_path), "--config", str(config), "--heads", "h.npz"]
    )
    assert result.exit_code == 0, result.output
    assert loaded == [load_settings(config).sentiment.model_copy(update={"heads_path": "h.npz"})]
