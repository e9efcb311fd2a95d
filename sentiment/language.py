"""Which language an answer is in, for the heads' per-language calibration: the caller's hint where given,
else lingua's detection among the languages the model was trained on (sentiment.detect)."""

from __future__ import annotations

from collections.abc import Sequence

from sentiment.detect import detect_language

MODEL_LANGUAGES = ("en", "es")


def resolve_languages(texts: Sequence[str], languages: Sequence[str | None] | None) -> list[str]:
    """The caller's hint where given ('es-MX' counts as 'es'), else lingua's; 'other' when undecided."""
    resolved = []
    for index, text in enumerate(texts):
        hint = languages[index] if languages is not None and index < len(languages) else None
        code = (hint or "").strip().lower()[:2]
        if not code:
            code = detect_language(text, MODEL_LANGUAGES) or "other"
        resolved.append(code if code in MODEL_LANGUAGES else "other")
    return resolved
