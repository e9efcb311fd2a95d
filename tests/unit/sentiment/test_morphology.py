"""Spanish inflections reach the English encoder as English words instead of fragments."""

from __future__ import annotations

import pytest

from sentiment.language import gloss
from sentiment.morphology import verb


@pytest.mark.parametrize(
    ("spanish", "english"),
    [
        ("No contestaron", "not answered"),
        ("habíamos pagado", "had paid"),
        ("perdieron el paquete", "lost the parcel"),
        ("nunca devuelven la llamada", "never return the call"),
        ("el técnico no funcionará", "the technician not will work"),
        ("podría haber sido mejor", "could have been better"),
        ("llegó rapidísimo", "arrived very fast"),
        ("me atendieron amablemente", "me served kindly"),
    ],
)
def test_conjugated_spanish_is_glossed_in_english(spanish: str, english: str) -> None:
    assert gloss(spanish) == english


@pytest.mark.parametrize(
    ("form", "english"),
    [
        ("pague", "paid"),
        ("pidieron", "asked for"),
        ("durmio", "slept"),
        ("construyeron", "built"),
        ("tuvieron", "had"),
        ("tendran", "will have"),
        ("esperaria", "would wait"),
        ("buscando", "looking for"),
    ],
)
def test_verb_forms_map_to_english_tenses(form: str, english: str) -> None:
    assert verb(form) == english


def test_glossary_words_win_over_morphology_and_unknown_words_stay() -> None:
    # "para" looks like a form of "parar" (to stop) but the glossary says "for"; "zorblat" is kept.
    assert gloss("para reclamar zorblat") == "for complain zorblat"
