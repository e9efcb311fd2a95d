"""Spanish word forms back to words the glossaries know, so the gloss reaches English more often.

The glossaries list words, but Spanish inflects: "contesten", "perdieron", "habíamos pagado" or "rapidísimo"
are not in them, and the English encoder then reads fragments. Here regular conjugations (with the usual
stem changes and spelling shifts), the commonest irregular stems, plurals, feminine forms, diminutives,
superlatives and "-mente" adverbs are taken back to an infinitive or a glossary word. Past forms come out
in the English past, so "no contestaron" reads "not answered". Input is plain: lower case, no accents.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

VERBS_PATH = Path(__file__).resolve().parent / "data" / "verbs_es_en.tsv"

_AR, _ER_IR = ("ar",), ("er", "ir")


def plain(text: str) -> str:
    """Lower case without accents: how glossary keys are written and matched."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _each(endings: str, classes: tuple[str, ...], tense: str) -> list[tuple[str, tuple[str, ...], str]]:
    return [(ending, classes, tense) for ending in endings.split()]


# (ending, infinitive endings it belongs to, tense); longer endings are tried first.
_ENDINGS: list[tuple[str, tuple[str, ...], str]] = [
    *_each("aste asteis aron aba abas abamos aban abais", _AR, "past"),
    *_each("ado ada ados adas ase e o", _AR, "past"),
    *_each("as a amos ais an es emos eis en ar", _AR, "base"),
    *_each("are aras ara aremos aran", _AR, "future"),
    *_each("aria arias ariamos arian", _AR, "conditional"),
    *_each("i iste isteis io ieron ia ias iamos ian iais", _ER_IR, "past"),
    *_each("ido ida idos idas iera ieras ieramos ieran iese", _ER_IR, "past"),
    *_each("yo yeron yera yeran", _ER_IR, "past"),
    *_each("o es e emos imos eis is en a as amos an", _ER_IR, "base"),
    *_each("er", ("er",), "base"),
    *_each("ere eras era eremos eran", ("er",), "future"),
    *_each("eria erias eriamos erian", ("er",), "conditional"),
    *_each("ir", ("ir",), "base"),
    *_each("ire iras ira iremos iran", ("ir",), "future"),
    *_each("iria irias iriamos irian", ("ir",), "conditional"),
    ("ando", _AR, "gerund"),
    ("iendo", _ER_IR, "gerund"),
    ("yendo", _ER_IR, "gerund"),
]
_ENDINGS.sort(key=lambda item: len(item[0]), reverse=True)

# Irregular stems: (stem, infinitive, tense, endings that may follow it).
_PAST_IRREGULAR = ("e", "iste", "o", "imos", "isteis", "ieron", "eron", "iera", "ieras", "ieran", "era")
_FUTURE = ("e", "as", "a", "emos", "an")
_CONDITIONAL = ("ia", "ias", "iamos", "ian")
_PRESENT_IRREGULAR = ("o", "a", "as", "amos", "an")
_IRREGULAR: list[tuple[str, str, str, tuple[str, ...]]] = [
    *(
        (s, v, "past", _PAST_IRREGULAR)
        for s, v in (
            ("tuv", "tener"),
            ("estuv", "estar"),
            ("hic", "hacer"),
            ("hiz", "hacer"),
            ("dij", "decir"),
            ("pus", "poner"),
            ("vin", "venir"),
            ("pud", "poder"),
            ("quis", "querer"),
            ("sup", "saber"),
            ("traj", "traer"),
            ("hub", "haber"),
            ("conduj", "conducir"),
            ("anduv", "andar"),
            ("mantuv", "mantener"),
            ("detuv", "detener"),
            ("supus", "suponer"),
            ("dispus", "disponer"),
        )
    ),
    *(
        (s, v, tense, endings)
        for s, v in (
            ("tendr", "tener"),
            ("pondr", "poner"),
            ("vendr", "venir"),
            ("podr", "poder"),
            ("querr", "querer"),
            ("sabr", "saber"),
            ("saldr", "salir"),
            ("habr", "haber"),
            ("har", "hacer"),
            ("dir", "decir"),
            ("valdr", "valer"),
            ("mantendr", "mantener"),
        )
        for tense, endings in (("future", _FUTURE), ("conditional", _CONDITIONAL))
    ),
    *(
        (s, v, "base", _PRESENT_IRREGULAR)
        for s, v in (
            ("teng", "tener"),
            ("pong", "poner"),
            ("veng", "venir"),
            ("hag", "hacer"),
            ("dig", "decir"),
            ("salg", "salir"),
            ("traig", "traer"),
            ("oig", "oir"),
            ("valg", "valer"),
            ("manteng", "mantener"),
        )
    ),
]
_MODALS = {"can": "could", "must": "should"}
_CLITICS = (("selo", "it"), ("sela", "it"), ("selos", "them"), ("selas", "them"), ("melo", "it to me"),
            ("nos", "us"), ("los", "them"), ("las", "them"), ("les", "them"), ("lo", "it"), ("la", "it"),
            ("le", "them"), ("me", "me"), ("te", "you"), ("se", ""))  # fmt: skip


def _stem_variants(stem: str) -> list[str]:
    """The stem as written, then undoing stem changes (pierd-, vuelv-, pid-, durm-) and spelling shifts."""
    variants = [stem]
    for old, new in (("ie", "e"), ("ue", "o"), ("i", "e"), ("u", "o")):
        at = stem.rfind(old)
        if at > 0:
            variants.append(stem[:at] + new + stem[at + len(old) :])
    for old, new in (("gu", "g"), ("qu", "c"), ("c", "z"), ("j", "g"), ("zc", "c"), ("y", ""), ("g", "gu")):
        if stem.endswith(old):
            variants.append(stem[: len(stem) - len(old)] + new)
    return variants


def _past(base: str, past: str) -> str:
    if past:
        return past
    head, _, rest = base.partition(" ")
    if head.endswith("e"):
        head += "d"
    elif head.endswith("y") and len(head) > 2 and head[-2] not in "aeiou":
        head = head[:-1] + "ied"
    else:
        head += "ed"
    return f"{head} {rest}".strip()


def _gerund(base: str) -> str:
    head, _, rest = base.partition(" ")
    if head.endswith("e") and not head.endswith("ee") and len(head) > 2:
        head = head[:-1]
    return f"{head}ing {rest}".strip()


@cache
def _verbs() -> dict[str, tuple[str, str]]:
    verbs: dict[str, tuple[str, str]] = {}
    for line in VERBS_PATH.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            spanish, base, *past = line.split("\t")
            verbs[plain(spanish.strip())] = (base.strip(), past[0].strip() if past else "")
    return verbs


def _render(infinitive: str, tense: str) -> str | None:
    entry = _verbs().get(infinitive)
    if entry is None:
        return None
    base, past = entry
    if tense == "future":
        return base if base in _MODALS else f"will {base}"
    if tense == "conditional":
        return _MODALS.get(base) or f"would {base}"
    return _past(base, past) if tense == "past" else _gerund(base) if tense == "gerund" else base


def verb(word: str) -> str | None:
    """The English of a conjugated Spanish verb ("contestaron" -> "answered"), if it is one we know."""
    if len(word) < 3:
        return None
    for stem, infinitive, tense, endings in _IRREGULAR:
        if word.startswith(stem) and word[len(stem) :] in endings:
            return _render(infinitive, tense)
    for ending, classes, tense in _ENDINGS:
        stem = word[: len(word) - len(ending)]
        if not word.endswith(ending) or len(stem) < 2:
            continue
        for variant in _stem_variants(stem):
            for infinitive_ending in classes:
                english = _render(variant + infinitive_ending, tense)
                if english is not None:
                    return english
    return None


def _with_clitic(word: str) -> str | None:
    """Infinitives, gerunds and commands with pronouns attached: "devolverlo" -> "return it"."""
    for clitic, english in _CLITICS:
        head = word[: len(word) - len(clitic)]
        if word.endswith(clitic) and len(head) >= 4 and head.endswith(("ar", "er", "ir", "ando", "iendo")):
            found = verb(head)
            if found is not None:
                return f"{found} {english}".strip()
    return None


def _adjective_or_noun(word: str, lookup: Callable[[str], str | None]) -> str | None:
    """Plurals, feminine forms, diminutives, superlatives and -mente adverbs of a glossary word."""
    if word.endswith("mente") and len(word) > 7:
        stem = word[:-5]
        english = lookup(stem) or (lookup(stem[:-1] + "o") if stem.endswith("a") else None)
        if english is not None and " " not in english:
            return english[:-1] + "ily" if english.endswith("y") else english + "ly"
    for suffix, replacements, prefix in (
        ("isimos", ("o", "e", ""), "very "), ("isimas", ("o", "a", "e", ""), "very "),
        ("isimo", ("o", "e", ""), "very "), ("isima", ("o", "a", "e", ""), "very "),
        ("citos", ("", "e"), ""), ("citas", ("", "e"), ""), ("cito", ("", "e"), ""), ("cita", ("", "e"), ""),
        ("itos", ("o", "e"), ""), ("itas", ("a", "o", "e"), ""),
        ("ito", ("o", "e"), ""), ("ita", ("a", "o", "e"), ""),
        ("es", ("",), ""), ("as", ("o", "a"), ""), ("os", ("o",), ""), ("s", ("",), ""), ("a", ("o",), ""),
    ):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: len(word) - len(suffix)]
            for replacement in replacements:
                english = lookup(stem + replacement)
                if english is not None:
                    return prefix + english
    return None


def english_form(word: str, lookup: Callable[[str], str | None]) -> str | None:
    """English for a plain Spanish word the glossaries lack, or None to leave it as it is."""
    if not word.isalpha() or len(word) < 3:
        return None
    return verb(word) or _with_clitic(word) or _adjective_or_noun(word, lookup)
