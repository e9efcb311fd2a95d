"""Reading a customer's message: a rating in any of its forms, and several answers in one message.

Cheap rules, on purpose: they run on every turn, must be predictable, and only decide *which question* a
piece of text answers — what the text means is the classifier's job.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "uno": 1, "una": 1, "un": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
}  # fmt: skip
_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_NUM = rf"(?:[1-5]|{_WORD})"
# Forms that are a rating wherever they appear: "4/5", "4 de 5", "four out of five", "4 stars", "⭐⭐⭐⭐".
_EXPLICIT = re.compile(
    rf"(?<![\w/.,])({_NUM})\s*(?:/\s*5|(?:out\s+of|of|de|sobre)\s+(?:5|five|cinco)|(?:stars?|estrellas?)\b)"
    rf"|(?:rating|rate|nota|puntuacion|calificacion)\s*[:=]?\s*({_NUM})\b",
    re.IGNORECASE,
)
_STARS = re.compile(r"(?:⭐|★|🌟)(?:\s*(?:⭐|★|🌟))*")
# A message that is only a rating, accepted when the rating is the question: "4", "4.", "cuatro", "a 4".
_BARE = re.compile(rf"^\s*(?:un\s+|a\s+)?({_NUM})\s*[.!]*\s*$", re.IGNORECASE)

_EXPECTATION_CUE = re.compile(
    r"\b(?:i\s+)?(?:expected|was\s+expecting|expecting|hoped|was\s+hoping|thought|assumed|was\s+told|"
    r"esperaba|esperábamos|pensaba|creía|creia|contaba\s+con|me\s+imaginaba|suponía|suponia|me\s+dijeron)\b",
    re.IGNORECASE,
)
_CONTRAST = re.compile(
    r"(?:^|[\s,;.!])(but|however|instead|actually|in\s+reality|in\s+the\s+end|"
    r"pero|sin\s+embargo|en\s+cambio|en\s+realidad|al\s+final|y\s+luego)\b",
    re.IGNORECASE,
)
_YES = re.compile(r"^\s*(?:yes|yeah|yep|sure|ok|okay|please|s[ií]|claro|vale|por\s+favor)\b", re.IGNORECASE)
_NO = re.compile(r"^\s*(?:no|nope|not\s+really|nah|no\s+gracias|no,?\s+thanks)\b", re.IGNORECASE)


def _fold(text: str) -> str:
    """Lowercase without accents, so "calificación" and "calificacion" read the same."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _number(token: str) -> int | None:
    token = token.lower()
    if token.isdigit():
        value = int(token)
        return value if 1 <= value <= 5 else None
    return _NUMBER_WORDS.get(token)


@dataclass(frozen=True, slots=True)
class Reading:
    """What one message answered. ``expectation``/``experience`` are set only when the message said both."""

    rating: int | None
    text: str  # the message without its rating part
    expectation: str | None = None
    experience: str | None = None


def find_rating(text: str, *, rating_expected: bool) -> tuple[int | None, str]:
    """(rating, text without it). Bare numbers count only when the rating is the question, so "I waited 2
    hours" never becomes a 2."""
    stars = _STARS.search(text)
    if stars:
        count = sum(1 for ch in stars.group(0) if ch in "⭐★🌟")
        if 1 <= count <= 5:
            return count, _clean(text[: stars.start()] + text[stars.end() :])
    folded = _fold(text)
    # Folding keeps positions for these ASCII patterns except where accents vanished; search the folded text
    # only to decide, then remove the same span length from the original when lengths agree.
    match = _EXPLICIT.search(folded)
    if match:
        value = _number(match.group(1) or match.group(2))
        if value is not None:
            rest = text[: match.start()] + text[match.end() :] if len(folded) == len(text) else text
            return value, _clean(rest)
    if rating_expected:
        bare = _BARE.match(folded)
        if bare:
            return _number(bare.group(1)), ""
    return None, text.strip()


def _clean(text: str) -> str:
    cleaned = re.sub(r"\s{2,}", " ", text).strip(" \t\n,;-–—")
    return cleaned if any(ch.isalnum() for ch in cleaned) else ""


def read_message(text: str, *, rating_expected: bool = False) -> Reading:
    """Split "I expected X but got Y, 2/5" into its answers; anything else is one piece of text."""
    rating, rest = find_rating(text, rating_expected=rating_expected)
    cue = _EXPECTATION_CUE.search(rest)
    if cue is not None:
        contrast = _CONTRAST.search(rest, cue.end())
        if contrast is not None:
            expectation = _clean(rest[: contrast.start(1)])
            experience = _clean(rest[contrast.end(1) :])
            if expectation and experience:
                return Reading(rating, rest, expectation, experience)
    return Reading(rating, rest)


def read_yes_no(text: str) -> bool | None:
    if _NO.match(text):
        return False
    if _YES.match(text):
        return True
    return None


def mentions_expectation(text: str) -> bool:
    return _EXPECTATION_CUE.search(text) is not None
