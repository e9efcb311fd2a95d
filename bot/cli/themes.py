"""`momento themes`: what the rows of a CSV talk about, grouped the way the bot groups stored answers.

Each row is written back with its theme key and name (or marked with why it has none: empty, too long, no
words, a model error), and a summary of the themes goes beside the output (``<output>-summary.csv``) and to
the terminal. The vectors come from frozen multilingual-e5-small by default (ARI 0.72 and 7/8 themes held
together across English and Spanish on our set, docs/themes.md), or with ``--encoder classifier`` from the
configured classifier's own pass, as the bot stores them.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click
import numpy as np

from bot.cli.classify import _cell, _prepare, _read, _Row, _settings, detect_languages
from sentiment import SyncModel

CHUNK = 256
RESULT_COLUMNS = ("theme_status", "theme_reason", "detected_language", "theme", "theme_name")
SUMMARY_COLUMNS = ("theme", "kind", "name", "words", "answers", "share", "representative")


def encode_rows(model: SyncModel, rows: list[_Row], progress: Any = None) -> dict[int, Any]:
    """Sentence vectors of the readable rows by row index; rows the model fails on get a reason."""
    vectors: dict[int, Any] = {}
    for row in rows:
        if row.text is not None and not any(ch.isalpha() for ch in row.text):
            row.reason, row.text = "no words", None
    for start in range(0, len(rows), CHUNK):
        chunk = [i for i in range(start, min(start + CHUNK, len(rows))) if rows[i].text is not None]
        if chunk:
            missing = [i for i in chunk if rows[i].language is None]
            for i, found in zip(missing, detect_languages([str(rows[i].text) for i in missing]), strict=True):
                rows[i].detected = found
                rows[i].language = found
            try:
                analyses = model.predict(
                    [str(rows[i].text) for i in chunk], [rows[i].language for i in chunk]
                )
            except Exception as exc:
                for i in chunk:
                    rows[i].reason = f"model error: {exc}"
            else:
                for i, analysis in zip(chunk, analyses, strict=True):
                    if analysis.vector is None:
                        raise click.ClickException(
                            f"the configured model ({model.model_id}) gives no sentence vectors; themes "
                            'need the default encoder ([sentiment] backend = "default")'
                        )
                    vectors[i] = analysis.vector
        if progress is not None:
            progress.update(min(CHUNK, len(rows) - start))
    return vectors


def _summary_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}-summary{output.suffix}")


@click.command("themes")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--text-column", default="text", show_default=True, help="Column with the answer text.")
@click.option("--lang-column", default=None, help="Column with a language code (en, es); detected if absent.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The .csv to write (never an existing file); its summary goes to OUTPUT-summary.csv.",
)
@click.option("--max-chars", default=4000, show_default=True, help="Longer texts are marked, not grouped.")
@click.option("--max-themes", default=12, show_default=True, help="At most this many discovered themes.")
@click.option(
    "--encoder",
    type=click.Choice(["e5", "classifier"]),
    default="e5",
    show_default=True,
    help="Where vectors come from: multilingual-e5-small (frozen; what the measured figures used) or the "
    "configured classifier's own pass (what the bot stores).",
)
@click.pass_obj
def themes_command(
    state: object,
    input_path: Path,
    text_column: str,
    lang_column: str | None,
    output: Path,
    max_chars: int,
    max_themes: int,
    encoder: str,
) -> None:
    """Group the rows of INPUT (csv) by theme: each row gets its theme key and name, plus a summary."""
    from sentiment import load_model
    from sentiment.themes import ThemeSettings, group_answers

    if output.suffix.lower() != ".csv":
        raise click.BadParameter(f"{output.name}: expected a .csv file", param_hint="--output")
    summary_path = _summary_path(output)
    for target in (output, summary_path):
        if target.exists():
            raise click.ClickException(f"{target} exists: choose another --output")
    if input_path.suffix.lower() not in (".csv", ".tsv"):
        raise click.BadParameter(f"{input_path.name}: expected a .csv file", param_hint="INPUT")
    header, rows = _read(input_path)
    if rows and text_column not in header:
        raise click.UsageError(
            f"{input_path.name} has no column '{text_column}' (columns: {', '.join(header)})"
        )
    for row in rows:
        _prepare(row, text_column, lang_column, max_chars)
    click.echo("Loading the model…", err=True)
    settings = _settings(state)
    model: SyncModel
    if encoder == "e5":
        from sentiment.themes_e5 import E5Vectors

        model = E5Vectors(Path(settings.cache_dir).expanduser(), batch_size=settings.batch_size)
    else:
        model = load_model(settings)
    with click.progressbar(length=max(len(rows), 1), label=f"Reading {len(rows):,} rows") as bar:
        vectors = encode_rows(model, rows, bar)
    indices = sorted(vectors)
    grouping = group_answers(
        [str(rows[i].text) for i in indices],
        [rows[i].language for i in indices],
        np.stack([vectors[i] for i in indices]) if indices else np.zeros((0, 1), dtype=np.float32),
        settings=ThemeSettings(max_themes=max_themes),
    )
    by_key = {theme.key: theme for theme in grouping.themes}
    themes_of: dict[int, str | None] = dict(zip(indices, grouping.assignment, strict=True))
    output.parent.mkdir(parents=True, exist_ok=True)
    columns = list(header) + [c for c in RESULT_COLUMNS if c not in header]
    with output.open("x", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for i, row in enumerate(rows):
            key = themes_of.get(i)
            if row.reason:
                status, reason = "unthemed", row.reason
            elif key is None:
                status, reason = "unthemed", "fits no theme"
            else:
                status, reason = "themed", ""
            record = {
                **row.data,
                "theme_status": status,
                "theme_reason": reason,
                "detected_language": row.detected or "",
                "theme": key or "",
                "theme_name": by_key[key].name(row.language or "en") if key else "",
            }
            writer.writerow({column: _cell(record.get(column)) for column in columns})
    texts = [str(rows[i].text) for i in indices]
    with summary_path.open("x", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        for theme in grouping.themes:
            writer.writerow(
                {
                    "theme": _cell(theme.key),
                    "kind": theme.kind,
                    "name": _cell(theme.name()),
                    "words": _cell(" ".join(theme.words)),
                    "answers": len(theme.members),
                    "share": round(len(theme.members) / max(len(rows), 1), 4),
                    "representative": _cell(
                        texts[theme.representative] if theme.representative is not None else ""
                    ),
                }
            )
    unthemed = sum(1 for i in range(len(rows)) if themes_of.get(i) is None)
    click.echo(f"Wrote {len(rows):,} rows to {output} ({unthemed:,} unthemed); summary in {summary_path}.")
    for theme in grouping.themes[:10]:
        click.echo(f"  {len(theme.members):>6,}  {theme.key}: {theme.name()}")
