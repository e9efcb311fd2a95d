"""Themes: declared then discovered, named by telling words of both languages, and one theme for the same
complaint in English and Spanish."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from sentiment.themes import DeclaredTheme, ThemeSettings, centre_by_language, fold, group_answers
from sentiment.vectors import normalised

THEME_SET = Path(__file__).resolve().parents[3] / "sentiment" / "data" / "themes_cx.csv"
TOPICS = {
    "late": ("late delivery parcel", "paquete llegó tarde"),
    "broken": ("box arrived broken", "caja llegó rota"),
    "rude": ("rude cashier staff", "cajera grosera personal"),
    "price": ("too expensive price", "precio muy caro"),
}


def synthetic(
    rng: np.random.Generator, per_language: int = 15
) -> tuple[list[str], list[str], list[str], Any]:
    """Vectors as frozen multilingual encoders make them: a topic direction plus a much larger direction
    per language (the reason raw vectors group by language first)."""
    dim = 48
    topic_axes = {topic: rng.normal(size=dim) for topic in TOPICS}
    language_axes = {"en": rng.normal(size=dim) * 3, "es": rng.normal(size=dim) * 3}
    texts, languages, labels, rows = [], [], [], []
    for topic, (english, spanish) in TOPICS.items():
        for language, words in (("en", english), ("es", spanish)):
            for _ in range(per_language):
                rows.append(topic_axes[topic] + language_axes[language] + rng.normal(size=dim) * 0.3)
                texts.append(words)
                languages.append(language)
                labels.append(topic)
    return texts, languages, labels, normalised(np.asarray(rows, dtype=np.float32))


def both_languages_together(labels: list[str], languages: list[str], found: list[str | None]) -> float:
    """Share of labelled themes whose English and Spanish answers mostly land in the same found theme."""
    together = 0
    themes = sorted(set(labels))
    for theme in themes:
        majority = []
        for language in ("en", "es"):
            got = [found[i] for i in range(len(found)) if labels[i] == theme and languages[i] == language]
            top = max(set(got), key=got.count)
            majority.append(top if got.count(top) > len(got) / 2 else None)
        together += majority[0] is not None and majority[0] == majority[1]
    return together / len(themes)


def test_raw_vectors_group_by_language_and_centring_fixes_it() -> None:
    texts, languages, labels, vectors = synthetic(np.random.default_rng(1))
    raw = KMeans(n_clusters=2, n_init=3, random_state=0).fit_predict(vectors)
    assert adjusted_rand_score(languages, raw) == 1.0  # the language is the loudest signal
    grouping = group_answers(texts, languages, vectors)
    assert adjusted_rand_score(labels, [k or "-" for k in grouping.assignment]) > 0.9
    assert both_languages_together(labels, languages, grouping.assignment) == 1.0
    centred, frames = centre_by_language(vectors, languages)
    assert set(frames) == {"en", "es"}
    assert np.allclose(np.linalg.norm(centred, axis=1), 1.0, atol=1e-5)


def test_discovered_themes_are_named_by_words_of_both_languages_without_stop_words() -> None:
    texts, languages, _, vectors = synthetic(np.random.default_rng(2))
    grouping = group_answers(texts, languages, vectors)
    assert len(grouping.themes) == 4
    for theme in grouping.themes:
        assert theme.kind == "discovered" and theme.words
        assert not {"the", "muy", "el", "la"} & set(theme.words)
        assert theme.representative in theme.members
    late = next(t for t in grouping.themes if "tarde" in t.words or "late" in t.words)
    assert {texts[i] for i in late.members} == {"late delivery parcel", "paquete llegó tarde"}
    assert {fold(w) for w in late.words} & {"tarde", "late", "llego", "parcel", "delivery", "paquete"}


def test_declared_themes_take_their_answers_first_and_the_rest_is_discovered() -> None:
    rng = np.random.default_rng(3)
    texts, languages, labels, vectors = synthetic(rng)
    # Example phrases: one answer of each language of the "late" topic stands for the company's phrases.
    first_en = labels.index("late")
    first_es = next(i for i in range(len(labels)) if labels[i] == "late" and languages[i] == "es")
    declared = [DeclaredTheme("late_delivery", {"en": "Late delivery", "es": "Entrega tardía"}, {})]
    grouping = group_answers(
        texts,
        languages,
        vectors,
        declared=declared,
        declared_vectors={"late_delivery": [("en", vectors[first_en]), ("es", vectors[first_es])]},
        settings=ThemeSettings(declared_threshold=0.5),
    )
    late = next(t for t in grouping.themes if t.key == "late_delivery")
    assert late.kind == "declared" and late.name("es") == "Entrega tardía"
    assert sorted(late.members) == [i for i, label in enumerate(labels) if label == "late"]
    discovered = [t for t in grouping.themes if t.kind == "discovered"]
    assert len(discovered) == 3
    assert all(grouping.assignment[i] is not None for i in range(len(texts)))


def test_nothing_to_group_gives_no_theme() -> None:
    assert group_answers([], [], np.zeros((0, 8), dtype=np.float32)).themes == []
    few = group_answers(["late", "tarde"], ["en", "es"], normalised(np.eye(2, 8, dtype=np.float32)))
    assert few.themes == [] and few.assignment == [None, None]
    with pytest.raises(ValueError):
        group_answers(["a"], ["en", "es"], np.zeros((1, 8), dtype=np.float32))


def test_the_default_model_hands_a_unit_vector_with_each_reading(sentiment_model: Any) -> None:
    analyses = sentiment_model.predict(
        ["The parcel came late", "   ", "El paquete llegó tarde"], ["en", None, "es"]
    )
    assert analyses[1].vector is None  # a blank answer is never read by the model
    for analysis in (analyses[0], analyses[2]):
        assert analysis.vector is not None
        assert abs(float(np.linalg.norm(analysis.vector)) - 1.0) < 1e-4
    # Same complaint, two languages: closer to each other than to an unrelated answer.
    other = sentiment_model.predict(["The cashier was very friendly"], ["en"])[0].vector
    assert float(analyses[0].vector @ analyses[2].vector) > float(analyses[0].vector @ other)


def test_the_hand_made_set_groups_across_languages_with_the_default_encoder(sentiment_model: Any) -> None:
    rows = list(csv.DictReader(THEME_SET.open(encoding="utf-8")))
    texts = [row["text"] for row in rows]
    languages = [row["lang"] for row in rows]
    labels = [row["theme"] for row in rows]
    assert len(set(labels)) == 8 and set(languages) == {"en", "es"}
    vectors = np.stack([a.vector for a in sentiment_model.predict(texts, languages)])
    grouping = group_answers(texts, languages, vectors)
    # MiniLM reads Spanish through its English gloss; measured ARI 0.58 and 5/8 themes together (e5:
    # 0.72 and 7/8, docs/themes.md). The bar here guards against regressions, it is not the target.
    assert adjusted_rand_score(labels, [k or "-" for k in grouping.assignment]) > 0.4
    assert both_languages_together(labels, languages, grouping.assignment) >= 3 / 8


def test_a_theme_found_again_keeps_its_earlier_key() -> None:
    rng = np.random.default_rng(4)
    texts, languages, _, vectors = synthetic(rng)
    first = group_answers(texts, languages, vectors)
    known = [(t.key, t.centroid) for t in first.themes if t.centroid is not None]
    assert len(known) == 4
    renamed = [("earlier-" + key, centroid) for key, centroid in known]
    again_texts, again_languages, _, again_vectors = synthetic(np.random.default_rng(4))
    again = group_answers(again_texts, again_languages, again_vectors, known=renamed)
    assert sorted(t.key for t in again.themes) == sorted(key for key, _ in renamed)
    # Nothing close enough: keys come from the words, as before.
    far = [("unrelated", normalised(rng.normal(size=(1, vectors.shape[1])).astype(np.float32))[0])]
    fresh = group_answers(again_texts, again_languages, again_vectors, known=far)
    assert "unrelated" not in {t.key for t in fresh.themes}
