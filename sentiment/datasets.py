"""Readers for the shared data sets and our own CX set, each row as one labelled Example.

Which sets may train the shipped model is decided here (TRAINABLE), following each SOURCE.md: GoEmotions,
UCI and XED-es may; TweetEval, UMSAB and EmoEvent are for evaluation only.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sentiment.labels import EMOTION_SENTIMENT, GOEMOTIONS_EKMAN, PLUTCHIK_EKMAN

CX_DIR = Path(__file__).resolve().parent / "data"
TRAINABLE = ("cx_en", "cx_es", "goemotions", "uci", "xed_es")
EVALUATION_ONLY = ("umsab_english", "umsab_spanish", "tweeteval", "emoevent_es")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    language: str
    sentiment: str | None
    emotion: str | None
    source: str


def _goemotions(root: Path, split: str) -> list[Example]:
    names = (root / "goemotions" / "emotions.txt").read_text(encoding="utf-8").split()
    examples = []
    with (root / "goemotions" / f"{split}.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            fine = [names[int(i)] for i in row[1].split(",")]
            ekman = {GOEMOTIONS_EKMAN[name] for name in fine}
            if len(ekman) != 1:
                continue  # mixed rows have no single Ekman label
            emotion = ekman.pop()
            examples.append(Example(row[0], "en", EMOTION_SENTIMENT[emotion], emotion, "goemotions"))
    return examples


def _uci(root: Path, split: str) -> list[Example]:
    with (root / "uci_sentiment_labelled_sentences" / f"{split}.tsv").open(
        encoding="utf-8", newline=""
    ) as handle:
        return [
            Example(row["text"], "en", "positive" if row["label"] == "1" else "negative", None, "uci")
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]


_PLUTCHIK = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")


def _xed(root: Path, split: str) -> list[Example]:
    examples = []
    with (root / "xed_es" / f"{split}.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) != 2 or not row[1].replace(" ", "").replace(",", "").isdigit():
                continue  # one malformed line in the projections
            labels = {_PLUTCHIK[int(i) - 1] for i in row[1].replace(" ", "").split(",") if i}
            ekman = {PLUTCHIK_EKMAN[label] for label in labels if label != "anticipation"}
            if len(ekman) != 1:
                continue  # anticipation alone carries no Ekman emotion; mixed rows are ambiguous
            emotion = ekman.pop()
            examples.append(Example(row[0], "es", EMOTION_SENTIMENT[emotion], emotion, "xed_es"))
    return examples


_SENTIMENT_IDS = ("negative", "neutral", "positive")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def _umsab(folder: str, language: str) -> Callable[[Path, str], list[Example]]:
    def read(root: Path, split: str) -> list[Example]:
        name = {"dev": "val"}.get(split, split)
        texts = _lines(root / folder / f"{name}_text.txt")
        labels = _lines(root / folder / f"{name}_labels.txt")
        return [
            Example(text, language, _SENTIMENT_IDS[int(label)], None, folder)
            for text, label in zip(texts, labels, strict=False)
            if label.strip()
        ]

    return read


def _tweeteval(root: Path, split: str) -> list[Example]:
    name = {"dev": "val"}.get(split, split)
    if name == "train":
        return []  # the train text is not in the shared copy
    texts = _lines(root / "tweeteval_sentiment" / f"{name}_text.txt")
    labels = _lines(root / "tweeteval_sentiment" / f"{name}_labels.txt")
    return [
        Example(text, "en", _SENTIMENT_IDS[int(label)], None, "tweeteval")
        for text, label in zip(texts, labels, strict=False)
        if label.strip()
    ]


def _emoevent(root: Path, split: str) -> list[Example]:
    name = "test_relabeled" if split == "test" else split  # test.tsv has wrong labels (see SOURCE.md)
    with (root / "emoevent_es" / f"{name}.tsv").open(encoding="utf-8", newline="") as handle:
        return [
            Example(
                row["tweet"],
                "es",
                None,
                "neutral" if row["emotion"] == "others" else row["emotion"],
                "emoevent_es",
            )
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def _cx(language: str) -> Callable[[Path, str], list[Example]]:
    def read(_root: Path, split: str) -> list[Example]:
        examples = []
        path = CX_DIR / f"cx_{language}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if row["split"] == split:
                examples.append(
                    Example(row["text"], language, row["sentiment"], row["emotion"], f"cx_{language}")
                )
        return examples

    return read


READERS: dict[str, Callable[[Path, str], list[Example]]] = {
    "cx_en": _cx("en"),
    "cx_es": _cx("es"),
    "goemotions": _goemotions,
    "uci": _uci,
    "xed_es": _xed,
    "umsab_english": _umsab("umsab_english", "en"),
    "umsab_spanish": _umsab("umsab_spanish", "es"),
    "tweeteval": _tweeteval,
    "emoevent_es": _emoevent,
}


def load(name: str, root: Path, split: str) -> list[Example]:
    """Examples of one data set's split: 'train', 'dev' or 'test'."""
    return READERS[name](root, split)
