"""Texts and languages: the gettext catalogues hold every text the code asks for, in every language.

The code names texts by stable keys (``translate(CARD, "title", ...)`` -> msgid ``card.title``); these tests
read the code with ``ast`` to find every key it uses and check the catalogues against it, so a new text
without its translation, a Spanish text that lost a {placeholder}, or a plural used as a singular fails
here rather than in front of a customer.
"""

from __future__ import annotations

import ast
import importlib
import logging
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

import bot.i18n as i18n
from bot.config import SUPPORTED_LANGUAGES, Settings
from bot.i18n import COMMON, Catalogue, catalogue_languages, catalogue_path, translate, translate_plural
from bot.reports.texts import REPORTS
from bot.script import SCRIPT_KEYS, script_text
from bot.telegram.menus import ADMIN_MENU, CUSTOMER_MENU, MENU, STAFF_MENU

BOT = Path(i18n.__file__).parent
ROOT = BOT.parent
TEMPLATE = BOT / "locale" / "momento.pot"

# Calls that take (catalogue, key, ...); and wrappers that take (key, ...) for one fixed catalogue.
LOOKUPS = {"translate": False, "translate_plural": True}
WRAPPERS = {"phrase": "phrases"}
# The few places that pass a key through on purpose; each one's keys are checked below by other means.
PASS_THROUGH = {
    ("bot/script.py", "script_text"),  # the ScriptKey literal: SCRIPT_KEYS
    ("bot/script.py", "phrase"),  # the wrapper itself: its callers are read instead
    ("bot/telegram/menus.py", "description"),  # MenuEntry.text_key: the menus are read instead
}


@dataclass(frozen=True)
class Use:
    msgid: str
    plural: bool
    where: str


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _messages(path: Path) -> dict[str, tuple[bool, tuple[str, ...]]]:
    """msgid -> (plural?, the translated forms) for every message of a .po/.pot."""
    found: dict[str, tuple[bool, tuple[str, ...]]] = {}
    for message in _read(path):
        if not message.id:
            continue
        msgid = message.id[0] if message.pluralizable else message.id
        strings = message.string if message.pluralizable else (message.string,)
        found[str(msgid)] = (message.pluralizable, tuple(strings))
    return found


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


class _Reader(ast.NodeVisitor):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.relative = path.relative_to(ROOT).as_posix()
        self.functions: list[str] = []
        self.uses: list[Use] = []
        self.dynamic: list[str] = []
        self._module: object | None = None

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _namespace(self, node: ast.expr) -> str:
        if self._module is None:
            self._module = importlib.import_module(_module_name(self.path))
        assert isinstance(node, ast.Name), f"{self.relative}:{node.lineno}: name the catalogue directly"
        catalogue = getattr(self._module, node.id)
        assert isinstance(catalogue, Catalogue), f"{self.relative}:{node.lineno}: {node.id} is no Catalogue"
        return catalogue.namespace

    def _keys(self, node: ast.expr) -> list[str] | None:
        """The literal key(s) a key argument can be: 'x', or 'x' if ... else 'y'; None when computed."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            body, orelse = self._keys(node.body), self._keys(node.orelse)
            return body + orelse if body is not None and orelse is not None else None
        return None

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        where = f"{self.relative}:{node.lineno}"
        if name in LOOKUPS and len(node.args) >= 2:
            namespace, key_node, plural = self._namespace(node.args[0]), node.args[1], LOOKUPS[name]
        elif name in WRAPPERS and node.args:
            namespace, key_node, plural = WRAPPERS[name], node.args[0], False
        else:
            self.generic_visit(node)
            return
        keys = self._keys(key_node)
        if keys is None:
            if (self.relative, self.functions[-1] if self.functions else "") not in PASS_THROUGH:
                self.dynamic.append(f"{where} ({ast.unparse(key_node)})")
        else:
            self.uses.extend(Use(f"{namespace}.{key}", plural, where) for key in keys)
        self.generic_visit(node)


def _read_code() -> tuple[list[Use], list[str]]:
    uses: list[Use] = []
    dynamic: list[str] = []
    for path in sorted(BOT.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if not any(name + "(" in source for name in (*LOOKUPS, *WRAPPERS)):
            continue
        reader = _Reader(path)
        reader.visit(ast.parse(source))
        uses.extend(reader.uses)
        dynamic.extend(reader.dynamic)
    uses.extend(Use(f"script.{key}", False, "SCRIPT_KEYS") for key in SCRIPT_KEYS)
    for entry in (*CUSTOMER_MENU, *STAFF_MENU, *ADMIN_MENU):
        uses.append(Use(f"{MENU.namespace}.{entry.text_key}", False, f"menu /{entry.command}"))
    return uses, dynamic


@pytest.fixture(scope="module")
def code() -> tuple[list[Use], list[str]]:
    return _read_code()


def _placeholders(text: str) -> set[str]:
    return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(text) if field}


# ----------------------------------------------------------------------------------------------------------
# The catalogues against the code
# ----------------------------------------------------------------------------------------------------------


def test_every_key_is_a_literal_the_catalogue_check_can_see(code: tuple[list[Use], list[str]]) -> None:
    uses, dynamic = code
    assert not dynamic, (
        "computed text keys (write the literal keys out, e.g. 'a' if x else 'b'): " + ", ".join(dynamic)
    )
    assert len(uses) > 150  # the reader really found the call sites


def test_every_text_the_code_uses_is_translated_in_every_language(code: tuple[list[Use], list[str]]) -> None:
    uses, _ = code
    assert set(SUPPORTED_LANGUAGES) <= set(catalogue_languages())
    problems = []
    for language in catalogue_languages():
        messages = _messages(catalogue_path(language))
        for use in uses:
            found = messages.get(use.msgid)
            if found is None:
                problems.append(f"{language}: {use.msgid} missing (used at {use.where})")
            elif found[0] != use.plural:
                kind = "translate_plural" if use.plural else "translate"
                problems.append(
                    f"{language}: {use.msgid} is {'' if found[0] else 'not '}plural, {kind} at {use.where}"
                )
            elif not all(form.strip() for form in found[1]):
                problems.append(f"{language}: {use.msgid} has an empty translation")
    assert not problems, "\n".join(problems)


def test_the_catalogues_hold_no_text_the_code_does_not_use(code: tuple[list[Use], list[str]]) -> None:
    uses, _ = code
    unused = set(_messages(TEMPLATE)) - {use.msgid for use in uses}
    assert unused == set(), "texts no code asks for (remove them from every catalogue)"


@pytest.mark.parametrize("language", catalogue_languages())
def test_each_catalogue_has_exactly_the_templates_messages(language: str) -> None:
    template = {msgid: plural for msgid, (plural, _) in _messages(TEMPLATE).items()}
    catalogue = {msgid: plural for msgid, (plural, _) in _messages(catalogue_path(language)).items()}
    assert sorted(set(catalogue) - set(template)) == [], "orphans (not in momento.pot)"
    assert sorted(set(template) - set(catalogue)) == [], "missing (in momento.pot, not here)"
    assert catalogue == template, "a message is plural in one file and singular in the other"


@pytest.mark.parametrize("language", catalogue_languages())
def test_each_catalogue_names_its_language_and_two_plural_forms(language: str) -> None:
    catalogue = _read(catalogue_path(language))
    assert str(catalogue.locale) == language
    assert catalogue.num_plurals == 2
    assert dict(catalogue.mime_headers)["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    assert "charset=utf-8" in dict(catalogue.mime_headers)["Content-Type"].lower()


@pytest.mark.parametrize("language", [lang for lang in catalogue_languages() if lang != "en"])
def test_translations_keep_every_english_placeholder(language: str) -> None:
    english = _messages(catalogue_path("en"))
    other = _messages(catalogue_path(language))
    problems = []
    for msgid, (plural, forms) in english.items():
        translated = other.get(msgid, (plural, ()))[1]
        # The one-form may drop the number ("the day before"), so each form is compared with its own.
        for index, (source, text) in enumerate(zip(forms, translated, strict=False)):
            lost = _placeholders(source) - _placeholders(text)
            if lost:
                problems.append(f"{msgid}[{index}] lost {sorted(lost)}")
            extra = _placeholders(text) - _placeholders(forms[-1]) - _placeholders(source)
            if extra:
                problems.append(f"{msgid}[{index}] has placeholders English never fills: {sorted(extra)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "path", [TEMPLATE, *(catalogue_path(lang) for lang in catalogue_languages() if lang != "en")]
)
def test_translators_see_the_current_english(path: Path) -> None:
    """The #. comment on each message is the English text of en.po (one:/other: for plurals)."""
    english = _messages(catalogue_path("en"))
    stale = []
    for message in _read(path):
        if not message.id:
            continue
        msgid = str(message.id[0] if message.pluralizable else message.id)
        plural, forms = english[msgid]
        expected = f"one: {forms[0]} other: {forms[1]}" if plural else forms[0]
        if " ".join(" ".join(message.auto_comments).split()) != " ".join(expected.split()):
            stale.append(msgid)
    assert not stale, f"{path.name}: the translator comment differs from en.po for {stale}"


def test_every_text_formats_with_its_placeholders() -> None:
    """No stray brace: each text parses as a str.format template in every catalogue."""
    for language in catalogue_languages():
        for msgid, (_, forms) in _messages(catalogue_path(language)).items():
            for form in forms:
                names = _placeholders(form)  # raises ValueError on a stray brace
                form.format(**dict.fromkeys(names, "x"))
                assert msgid  # keeps the loop honest for an empty catalogue


# ----------------------------------------------------------------------------------------------------------
# Lookups: the texts, the plural forms, the fallbacks
# ----------------------------------------------------------------------------------------------------------


def test_translate_fills_placeholders_in_each_language() -> None:
    assert translate(REPORTS, "customer_title", "en", id="C-1") == "Customer C-1"
    assert translate(REPORTS, "customer_title", "es", id="C-1") == "Cliente C-1"
    assert translate(COMMON, "not_allowed", "es") == "Lo siento, eso no está disponible."


@pytest.mark.parametrize(
    ("language", "n", "expected"),
    [
        ("en", 0, "<b>0 open alerts</b>, oldest first:"),
        ("en", 1, "<b>1 open alert</b>:"),
        ("en", 2, "<b>2 open alerts</b>, oldest first:"),
        ("es", 0, "<b>0 alertas abiertas</b>, de la más antigua a la más nueva:"),
        ("es", 1, "<b>1 alerta abierta</b>:"),
        ("es", 2, "<b>2 alertas abiertas</b>, de la más antigua a la más nueva:"),
    ],
)
def test_the_alerts_header_agrees_with_its_count(language: str, n: int, expected: str) -> None:
    assert translate_plural(REPORTS, "alerts_header", n, language, count=n, more="") == expected


@pytest.mark.parametrize(
    ("language", "n", "expected"),
    [
        ("en", 0, "· 0 ratings ·"),
        ("en", 1, "· 1 rating ·"),
        ("en", 2, "· 2 ratings ·"),
        ("es", 0, "· 0 valoraciones ·"),
        ("es", 1, "· 1 valoración ·"),
        ("es", 2, "· 2 valoraciones ·"),
    ],
)
def test_a_segment_row_agrees_with_its_count(language: str, n: int, expected: str) -> None:
    text = translate_plural(
        REPORTS,
        "segment_row",
        n,
        language,
        flag="🔴",
        tier="gold",
        csat="50%",
        minimum="40%",
        ratings=n,
        mean="3.0",
        net="+0.10",
    )
    assert expected in text


def test_the_period_comparison_reads_right_for_one_day() -> None:
    assert translate_plural(REPORTS, "vs_previous", 1, "en", days=1) == "Changes are against the day before."
    assert (
        translate_plural(REPORTS, "vs_previous", 7, "en", days=7) == "Changes are against the 7 days before."
    )
    assert translate_plural(REPORTS, "vs_previous", 1, "es", days=1) == "Cambios frente al día anterior."
    assert (
        translate_plural(REPORTS, "vs_previous", 7, "es", days=7) == "Cambios frente a los 7 días anteriores."
    )


def test_a_language_without_a_catalogue_gets_english() -> None:
    assert translate(COMMON, "not_allowed", "fr") == "Sorry, that is not available."
    assert translate_plural(REPORTS, "alerts_header", 1, "fr", count=1, more="") == "<b>1 open alert</b>:"


def test_a_missing_text_shows_its_key_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    i18n.reload_catalogues()
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        assert translate(Catalogue("nowhere"), "nothing", "es", x=1) == "nowhere.nothing"
    assert "nowhere.nothing" in caplog.text


def test_the_menus_come_from_the_catalogue_per_language() -> None:
    help_entry = next(entry for entry in CUSTOMER_MENU if entry.command == "help")
    staff_help = next(entry for entry in STAFF_MENU if entry.command == "help")
    assert help_entry.description("en") == "What I can do"
    assert help_entry.description("es") == "Qué puedo hacer"
    assert staff_help.description("es") == "Comandos del equipo"
    assert [entry.command for entry in ADMIN_MENU][-2:] == ["export", "staff"]


def test_a_touchpoints_own_wording_wins_over_the_catalogue() -> None:
    settings = Settings(
        touchpoints=[
            {
                "key": "call",
                "names": {"en": "support call", "es": "llamada"},
                "texts": {"en": {"experience": "And how did the {touchpoint} go{name}?"}},
            }
        ]
    )
    assert (
        script_text(settings, "call", "experience", "en", name="Ana")
        == "And how did the support call go, Ana?"
    )
    # Spanish has no rewrite: the catalogue's default, with the Spanish touchpoint name.
    assert script_text(settings, "call", "experience", "es") == "Entendido. ¿Y cómo fue en realidad?"
    assert script_text(settings, "call", "expectation", "es") == (
        "¡Genial, gracias! Antes de que ocurriera, ¿qué esperabas de tu llamada?"
    )


# ----------------------------------------------------------------------------------------------------------
# Adding a language: a catalogue made from the template is all the lookups need
# ----------------------------------------------------------------------------------------------------------


def test_a_new_catalogue_made_from_the_template_is_spoken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    locale = tmp_path / "locale"
    shutil.copytree(BOT / "locale", locale)
    # What `pybabel init -l pt` does: the template with the new locale; then one text translated.
    catalogue = _read(TEMPLATE)
    catalogue.locale = "pt"
    catalogue["common.not_allowed"].string = "Desculpe, isso não está disponível."
    target = catalogue_path("pt", locale)
    target.parent.mkdir(parents=True)
    with target.open("wb") as handle:
        write_po(handle, catalogue)
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    i18n.reload_catalogues()

    assert catalogue_languages() == ("en", "es", "pt")
    assert translate(COMMON, "not_allowed", "pt") == "Desculpe, isso não está disponível."
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        # Not translated yet: English, and the gap is logged.
        assert translate(COMMON, "unknown_command", "pt").startswith("Sorry, I don't know that command")
    assert "common.unknown_command" in caplog.text


def test_a_broken_placeholder_in_a_translation_falls_back_to_english(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locale = tmp_path / "locale"
    shutil.copytree(BOT / "locale", locale)
    path = catalogue_path("es", locale)
    path.write_text(
        path.read_text(encoding="utf-8").replace('msgstr "Cliente {id}"', 'msgstr "Cliente {ident}"'),
        encoding="utf-8",
    )
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    i18n.reload_catalogues()
    assert translate(REPORTS, "customer_title", "es", id="C-1") == "Customer C-1"
