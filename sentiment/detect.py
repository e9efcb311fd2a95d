"""Which configured language a customer's message is written in (lingua, offline, restricted to the
languages Momento speaks): the dialogue answers in the language the customer writes, not only in Telegram's
setting. Short or ambiguous messages ("ok", "10", "hello?") decide nothing."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

# A message of one word decides only when the detector is this sure ("gracias", "sí"); longer ones at MIN.
MIN_CONFIDENCE = 0.75
ONE_WORD_CONFIDENCE = 0.95
_WORD = re.compile(r"[^\W\d_]{2,}")


@functools.cache
def _detector(codes: tuple[str, ...]) -> LanguageDetector:
    languages = [Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in codes]
    if len(languages) < 2:
        raise ValueError("language detection needs at least two languages to choose from")
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


def detect_language(text: str, languages: Iterable[str]) -> str | None:
    """The ISO 639-1 code of *text*'s language among *languages*, or None when the text does not say."""
    codes = tuple(sorted(set(languages)))
    words = _WORD.findall(text)
    if len(codes) < 2 or not words:
        return None
    best = max(_detector(codes).compute_language_confidence_values(text), key=lambda value: value.value)
    needed = ONE_WORD_CONFIDENCE if len(words) == 1 else MIN_CONFIDENCE
    if best.value < needed:
        return None
    return best.language.iso_code_639_1.name.lower()


def warm_up(languages: Iterable[str]) -> None:
    """Load the language models now (about 0.3 s) rather than on a customer's first message."""
    codes = tuple(sorted(set(languages)))
    if len(codes) >= 2:
        _detector(codes)
