"""Theme quality of a `momento themes` output against labels: adjusted Rand index and the cross-lingual share.

    momento themes SET.csv --text-column text --lang-column lang -o /tmp/t.csv --encoder e5
    python -m bench.themes_quality --labels sentiment/data/themes_cx.csv --output /tmp/t.csv

SET.csv is the labelled file without its theme column (the output's own "theme" column would clash).
Cross-lingual share: the labelled themes whose English answers and Spanish answers each land, by a strict
majority, in the same discovered theme (the acceptance rule of issue 17). Unthemed rows count as their own
"none" group (they lower the ARI; nothing is dropped).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from sklearn.metrics import adjusted_rand_score


def majority(values: list[str]) -> str | None:
    top = max(set(values), key=values.count)
    return top if values.count(top) * 2 > len(values) else None


def quality(labels: list[str], languages: list[str], found: list[str]) -> tuple[float, int, int]:
    """(ARI, themes held together across languages, labelled themes)."""
    together = 0
    themes = sorted(set(labels))
    for theme in themes:
        picks = [
            majority(
                [
                    f
                    for f, lab, lang in zip(found, labels, languages, strict=True)
                    if lab == theme and lang == language
                ]
            )
            for language in ("en", "es")
        ]
        together += picks[0] is not None and picks[0] == picks[1] and picks[0] != "none"
    return float(adjusted_rand_score(labels, found)), together, len(themes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--labels", type=Path, required=True, help="CSV with text, lang, theme")
    parser.add_argument("--output", type=Path, required=True, help="what `momento themes` wrote")
    parser.add_argument("--label-column", default="theme")
    args = parser.parse_args()
    labelled = list(csv.DictReader(args.labels.open(encoding="utf-8-sig")))
    written = list(csv.DictReader(args.output.open(encoding="utf-8-sig")))
    if len(labelled) != len(written):
        raise SystemExit(f"{len(labelled)} labelled rows but {len(written)} written")
    labels = [row[args.label_column] for row in labelled]
    languages = [row["lang"] for row in labelled]
    # The CLI output keeps the input's columns; its own theme column is called "theme" too, so the label is
    # read from the labels file, the found theme from the output by position.
    found = [row["theme"] or "none" for row in written]
    ari, together, total = quality(labels, languages, found)
    print(
        f"answers={len(labels)} themes_found={len(set(found) - {'none'})} ARI={ari:.3f} "
        f"cross_lingual={together}/{total} ({together / total:.0%})"
    )


if __name__ == "__main__":
    main()
