"""`momento classify`: sentiment and emotion for every row of a CSV or JSONL file, with the configured model.

Rows whose text cannot be read (empty, too long, not text) are written back marked `unanalysed` with the
reason, so the output always has one row per input row and nothing is silently dropped. Each text's language
is detected (lingua, restricted to the bot's languages) into a `detected_language` column. A CSV output opens
right in Excel: UTF-8 with a BOM, and cells that a spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from sentiment import EMOTIONS, SENTIMENTS, SyncModel

CHUNK = 256
RESULT_COLUMNS = (
    "status",
    "reason",
    "detected_language",
    "sentiment",
    *(f"sentiment_{label}" for label in SENTIMENTS),
    "emotion",
    *(f"emotion_{label}" for label in EMOTIONS),
    "model_id",
    "model_version",
)


@dataclass
class _Row:
    data: dict[str, Any]
    text: str | None = None
    language: str | None = None
    reason: str | None = None
    detected: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


def detect_languages(texts: list[str]) -> list[str | None]:
    """ISO 639-1 code of each text among the supported languages (None when lingua cannot tell).

    One small function so another detector (e.g. a shared sentiment.detect) can replace it in one place.
    """
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    from bot.config import SUPPORTED_LANGUAGES

    codes = [IsoCode639_1.from_str(code) for code in SUPPORTED_LANGUAGES]
    detector = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()
    found = detector.detect_languages_in_parallel_of(texts)
    return [language.iso_code_639_1.name.lower() if language else None for language in found]


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise click.BadParameter(f"{path.name}: expected a .csv or .jsonl file")


def _read(path: Path) -> tuple[list[str], list[_Row]]:
    """Header (CSV) and rows; a JSONL line that is not an object becomes a row with a reason."""
    if _format(path) == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            rows = [_Row({k: v for k, v in row.items() if k is not None}) for row in reader]
            return list(reader.fieldnames or []), rows
    rows = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                rows.append(_Row({"line": number}, reason=f"line {number} is not valid JSON"))
                continue
            if not isinstance(data, dict):
                rows.append(
                    _Row({"line": number, "value": data}, reason=f"line {number} is not a JSON object")
                )
                continue
            rows.append(_Row(data))
    return [], rows


def _prepare(row: _Row, text_column: str, lang_column: str | None, max_chars: int) -> None:
    if row.reason:
        return
    value = row.data.get(text_column)
    if text_column not in row.data:
        row.reason = f"no '{text_column}' field"
    elif value is None or (isinstance(value, str) and not value.strip()):
        row.reason = "empty text"
    elif not isinstance(value, str):
        row.reason = f"not text ({type(value).__name__})"
    elif len(value) > max_chars:
        row.reason = f"too long ({len(value):,} characters, limit {max_chars:,})"
    else:
        row.text = value
        language = row.data.get(lang_column) if lang_column else None
        row.language = language if isinstance(language, str) and language.strip() else None


def _chunks(rows: list[_Row]) -> Iterator[list[_Row]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def classify_rows(model: SyncModel, rows: list[_Row], progress: Any = None) -> None:
    """Fill each readable row's detected language and result; a model failure marks that chunk unanalysed
    and goes on. The detected language is the model's hint where the file gives none."""
    for chunk in _chunks(rows):
        todo = [row for row in chunk if row.text is not None]
        if todo:
            for row, detected in zip(todo, detect_languages([str(r.text) for r in todo]), strict=True):
                row.detected = detected
                row.language = row.language or detected
            try:
                analyses = model.predict([str(r.text) for r in todo], [r.language for r in todo])
            except Exception as exc:
                for row in todo:
                    row.reason = f"model error: {exc}"
            else:
                for row, analysis in zip(todo, analyses, strict=True):
                    row.result = {
                        "sentiment": analysis.sentiment,
                        **{f"sentiment_{k}": round(v, 4) for k, v in analysis.sentiment_scores.items()},
                        "emotion": analysis.emotion,
                        **{f"emotion_{k}": round(v, 4) for k, v in analysis.emotion_scores.items()},
                        "model_id": analysis.model_id,
                        "model_version": analysis.model_version,
                    }
        if progress is not None:
            progress.update(len(chunk))


def _output_record(row: _Row) -> dict[str, Any]:
    status = {
        "status": "unanalysed" if row.reason or not row.result else "analysed",
        "reason": row.reason or "",
    }
    return {**row.data, **status, "detected_language": row.detected or "", **row.result}


def _write(path: Path, header: list[str], rows: list[_Row]) -> None:
    if _format(path) == "jsonl":
        with path.open("x", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(_output_record(row), ensure_ascii=False, default=str) + "\n")
        return
    columns = list(header) or list(dict.fromkeys(key for row in rows for key in row.data))
    columns += [column for column in RESULT_COLUMNS if column not in columns]
    with path.open("x", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            record = _output_record(row)
            writer.writerow({key: _cell(record.get(key)) for key in columns})


def _cell(value: Any) -> Any:
    """A CSV cell: lists and objects as JSON, text that could run as a formula neutralised."""
    from bot.reports.exports import neutralise

    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return neutralise(value) if isinstance(value, str) else value


def default_output(input_path: Path, now: datetime) -> Path:
    """``<input>-classified-<time to the second>.<same format>`` beside the input, never an existing file."""
    from bot.reports.exports import free_path

    stamp = now.strftime("%Y%m%d-%H%M%S")
    return free_path(input_path.with_name(f"{input_path.stem}-classified-{stamp}{input_path.suffix.lower()}"))


@click.command("classify")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--text-column", default="text", show_default=True, help="Column (or JSON field) with the text."
)
@click.option("--lang-column", default=None, help="Column with a language code (en, es); guessed if absent.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=".csv or .jsonl (default: INPUT-classified-<time>.<same format>, beside INPUT; never an existing "
    "file).",
)
@click.option("--max-chars", default=4000, show_default=True, help="Longer texts are left unanalysed.")
@click.pass_obj
def classify_command(
    state: object,
    input_path: Path,
    text_column: str,
    lang_column: str | None,
    output: Path | None,
    max_chars: int,
) -> None:
    """Add the detected language, sentiment, emotion and their scores to every row of INPUT (csv or jsonl)."""
    from sentiment import load_model

    output = output or default_output(input_path, datetime.now(UTC))
    _format(output)
    if output.exists():
        raise click.ClickException(f"{output} exists: choose another --output")
    header, rows = _read(input_path)
    if _format(input_path) == "csv" and rows and text_column not in header:
        raise click.UsageError(
            f"{input_path.name} has no column '{text_column}' (columns: {', '.join(header)})"
        )
    for row in rows:
        _prepare(row, text_column, lang_column, max_chars)
    settings = _settings(state)
    click.echo("Loading the model…", err=True)
    model = load_model(settings)
    with click.progressbar(length=len(rows), label=f"Classifying {len(rows):,} rows", file=None) as bar:
        classify_rows(model, rows, bar)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write(output, header, rows)
    except FileExistsError as exc:
        raise click.ClickException(f"{output} exists: choose another --output") from exc
    skipped = sum(1 for row in rows if row.reason)
    click.echo(f"Wrote {len(rows):,} rows to {output} ({skipped:,} unanalysed).", err=True)


def _settings(state: object) -> Any:
    """The [sentiment] settings of the group's config, or of the environment when run on its own."""
    if hasattr(state, "settings"):
        return state.settings(require_file=False).sentiment
    from bot.config import ConfigError, load_settings

    try:
        return load_settings(require_file=False).sentiment
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
