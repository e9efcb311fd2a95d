"""Language choice and texts: the bot answers in the customer's language (English or Spanish).

Every customer- and staff-facing text lives in a gettext catalogue, one per language:
``bot/locale/<lang>/LC_MESSAGES/momento.po``, made from the template ``bot/locale/momento.pot``. The
msgids are stable keys named after the feature's catalogue (``card.title``, ``reports.alerts_header``), not
the English sentences: rewording the English never orphans a translation, and the code names one text the
same way in every language. The English wording is ``en/…/momento.po``; the template and the other
catalogues carry it as a translator comment.

A feature names its catalogue once (``CARD = Catalogue("card")``) and asks for texts with
``translate(CARD, "title", language, id=...)`` or, where a count decides the wording,
``translate_plural(REPORTS, "alerts_header", n, language, count=...)``. The ``.po`` files are compiled in
memory when first needed (Babel, no build step), so an edited catalogue is what the next start runs. A
missing text falls back to English, then to its key, with a warning; a broken placeholder in a translation
falls back the same way: a text never crashes the bot.
"""

from __future__ import annotations

import functools
import gettext
import logging
import re
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LANGUAGES

log = logging.getLogger(__name__)

FALLBACK_LANGUAGE = "en"
DOMAIN = "momento"
LOCALE_DIR = Path(__file__).with_name("locale")
# Only such names are looked up as catalogue directories.
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One feature's texts: the namespace its keys are prefixed with in the gettext catalogues."""

    namespace: str

    def msgid(self, key: str) -> str:
        return f"{self.namespace}.{key}"


COMMON = Catalogue("common")


def pick_language(*candidates: str | None, default: str = FALLBACK_LANGUAGE) -> str:
    """First supported language among the candidates ('es-MX' -> 'es'), else *default*.

    Callers pass the stored preference first, then Telegram's language_code.
    """
    for candidate in candidates:
        if candidate:
            base = candidate.strip().lower().replace("_", "-").split("-")[0]
            if base in SUPPORTED_LANGUAGES:
                return base
    return default if default in SUPPORTED_LANGUAGES else FALLBACK_LANGUAGE


def catalogue_path(language: str, locale_dir: Path | None = None) -> Path:
    return (locale_dir or LOCALE_DIR) / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalogue_languages(locale_dir: Path | None = None) -> tuple[str, ...]:
    """The languages that have a catalogue, sorted."""
    root = locale_dir or LOCALE_DIR
    return tuple(sorted(path.parent.parent.name for path in root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")))


@functools.cache
def _compiled(locale_dir: Path, language: str) -> gettext.GNUTranslations | None:
    """The language's .po compiled in memory; None (logged) when it is missing or unreadable."""
    path = catalogue_path(language, locale_dir)
    try:
        with path.open("rb") as handle:
            catalogue = read_po(handle, domain=DOMAIN)
        compiled = BytesIO()
        write_mo(compiled, catalogue)
        compiled.seek(0)
        return gettext.GNUTranslations(compiled)
    except FileNotFoundError:
        if language in SUPPORTED_LANGUAGES:
            log.warning("no text catalogue for %r at %s: using English", language, path)
        return None
    except Exception:
        log.exception("cannot read the text catalogue %s: using English", path)
        return None


def translations(language: str) -> gettext.GNUTranslations | None:
    """The compiled catalogue of *language* ('es', 'pt_BR'); None for a language without one."""
    if not _LANGUAGE_CODE.fullmatch(language):
        return None
    return _compiled(LOCALE_DIR, language)


def reload_catalogues() -> None:
    """Forget the compiled catalogues (tests, or after editing a .po in a running process)."""
    _compiled.cache_clear()
    _warn_missing.cache_clear()


@functools.cache
def _warn_missing(msgid: str, language: str) -> None:
    log.warning("text %r is missing in the %r catalogue", msgid, language)


def _template(msgid: str, language: str, count: int | None) -> str | None:
    """The language's text for *msgid* (the form *count* takes), or None when it has none."""
    compiled = translations(language)
    if compiled is None:
        return None
    text = compiled.gettext(msgid) if count is None else compiled.ngettext(msgid, msgid, count)
    if not text or text == msgid:
        _warn_missing(msgid, language)
        return None
    return text


def _render(msgid: str, language: str, count: int | None, values: dict[str, object]) -> str:
    """The text in *language*, else English, else its key; a broken placeholder also falls back."""
    for candidate in dict.fromkeys((language, FALLBACK_LANGUAGE)):
        template = _template(msgid, candidate, count)
        if template is None:
            continue
        if not values:
            return template
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError, AttributeError):
            log.warning("text %r in %r has a broken placeholder: %r", msgid, candidate, template)
    return msgid


def translate(catalogue: Catalogue, key: str, language: str, /, **values: object) -> str:
    """The text for *key* in *language* (English if missing there), with {placeholders} filled."""
    return _render(catalogue.msgid(key), language, None, values)


def translate_plural(catalogue: Catalogue, key: str, count: int, language: str, /, **values: object) -> str:
    """The text for *key* in the plural form *count* takes in *language* ('1 rating', '2 ratings').

    *count* only chooses the form; pass the shown number as a placeholder too (formatted for the language).
    """
    return _render(catalogue.msgid(key), language, count, values)
