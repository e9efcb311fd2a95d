"""Spanish awareness for an English encoder: a language guess, and a word-by-word English gloss.

MiniLM's vocabulary is English, so "llegó tarde y roto" splits into meaningless pieces. For Spanish answers
the transformer reads the gloss ("arrived late and broken") instead. The glossaries are hand-written: one for
customer-experience answers, one for everyday and chat Spanish; words neither lists go through
`sentiment.morphology`, which takes conjugated and inflected forms back to words they know.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from sentiment.morphology import english_form, plain

_SPANISH_HINTS_TEXT = """
que de la el los las y en un una por con para es muy pero no sí si lo le se su al del más todo bien
mal nada nunca gracias llegó llego tarde pedido atención servicio fue estuvo era esperaba esperé
espere me mi yo ya hoy ayer tienda entrega envío envio paquete habitación hotel están está esta
estaba también tambien porque cuando como donde hasta sin sobre bueno buena malo mala genial vale
pues oye qué cómo súper super increíble horrible fatal perfecto excelente nadie tampoco
"""
_SPANISH_HINTS = frozenset(_SPANISH_HINTS_TEXT.split())
_ENGLISH_HINTS_TEXT = """
the and was is it to of my i a in for with but not very it's that this on at be were had have you
they we no yes so just all good bad great ok okay thanks thank late delivery order arrived expected
service staff room store call support never nothing everything
"""
_ENGLISH_HINTS = frozenset(_ENGLISH_HINTS_TEXT.split())
_WORD = re.compile(r"[\w']+", re.UNICODE)


def guess_language(text: str) -> str:
    """'es' or 'en' from function words and Spanish letters; English when nothing tells."""
    lowered = text.lower()
    words = _WORD.findall(lowered)
    es = sum(word in _SPANISH_HINTS for word in words) + 2 * sum(ch in "ñ¿¡" for ch in lowered)
    es += sum(ch in "áéíóú" for ch in lowered)
    en = sum(word in _ENGLISH_HINTS for word in words)
    return "es" if es > en else "en"


def resolve_languages(texts: Sequence[str], languages: Sequence[str | None] | None) -> list[str]:
    """Use the caller's hint where given ('es-MX' counts as 'es'), guess otherwise."""
    resolved = []
    for index, text in enumerate(texts):
        hint = languages[index] if languages is not None and index < len(languages) else None
        code = (hint or "").strip().lower()[:2]
        resolved.append(code if code in ("en", "es") else guess_language(text) if not code else "other")
    return resolved


# Spanish (accents stripped, lowercase) -> English; phrases are matched before words. The CX glossary comes
# first and wins; the general one adds everyday and social-media words (tweets, chat slang).
GLOSSARY_PATH = Path(__file__).resolve().parent / "data" / "glossary_es_en.tsv"
GENERAL_GLOSSARY_PATH = Path(__file__).resolve().parent / "data" / "glossary_general_es_en.tsv"


@cache
def _glossary() -> tuple[dict[str, str], re.Pattern[str]]:
    entries: dict[str, str] = {}
    for path in (GLOSSARY_PATH, GENERAL_GLOSSARY_PATH):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                spanish, english = line.split("\t", 1)
                entries.setdefault(plain(spanish.strip()), english.strip())
    phrases = sorted(entries, key=len, reverse=True)
    # A glossary phrase where one starts, else the next word, which morphology may still recognise.
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(p) for p in phrases) + r")(?!\w)|([^\W\d_]+)")
    return entries, pattern


def gloss(text: str) -> str:
    """A rough English rendering of Spanish text; unknown words (often cognates) are kept as they are."""
    entries, pattern = _glossary()

    def english(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return entries[match.group(1)]
        word = match.group(2)
        return english_form(word, entries.get) or word

    return pattern.sub(english, plain(text))


# Emoji MiniLM's vocabulary lacks (all read as [UNK]) become words; Unicode names cover the rest.
_EMOJI_WORDS = {
    "❤": "red heart love",
    "♥": "heart love",
    "⭐": "star",
    "😡": "angry face",
    "😠": "angry face",
    "😤": "angry huffing face",
    "🤬": "angry face cursing",
    "🙄": "annoyed face rolling eyes",
    "🙃": "upside-down face sarcasm",
    "☹": "frowning sad face",
    "🙏": "thank you folded hands",
    "👌": "ok hand perfect",
    "💯": "hundred points perfect",
    "🥰": "smiling face with hearts love",
    "👏": "clapping hands",
}
_SKIP = {"\ufe0f", "\ufe0e", "\u200d"}


def describe_emoji(text: str) -> str:
    """Spell out emoji ("😡" -> "angry face") so the encoder sees words instead of unknown tokens."""
    if text.isascii():
        return text
    parts = []
    for ch in text:
        if ch in _SKIP or unicodedata.category(ch) == "Sk":
            continue
        if unicodedata.category(ch) == "So":
            words = _EMOJI_WORDS.get(ch) or unicodedata.name(ch, "").lower().replace(" sign", "")
            parts.append(f" {words} " if words else " ")
        else:
            parts.append(ch)
    return "".join(parts).strip()
