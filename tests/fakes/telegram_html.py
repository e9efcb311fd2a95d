"""Telegram's HTML parse mode, strict where Telegram is strict, so e2e tests catch unescaped customer text.

Follows tdlib's parser: a ``<`` must open a supported tag (``1 < 2`` is refused), end tags must match,
every tag must be closed, ``&`` that is not an entity stays literal. Returns the plain text and the
entities (offsets in UTF-16 code units, as Telegram counts them).
"""

from __future__ import annotations

import html
import re
from typing import Any

SUPPORTED_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);")
_ATTRIBUTE = re.compile(r"""\s*([a-zA-Z-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")


class HtmlParseError(ValueError):
    """What Telegram answers with ``400 Bad Request: can't parse entities: ...``."""


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(match: re.Match[str]) -> str | None:
    body = match.group(1)
    if body.startswith(("#x", "#X")):
        code = int(body[2:], 16)
    elif body.startswith("#"):
        code = int(body[1:])
    else:
        return _NAMED_ENTITIES.get(body)
    return chr(code) if 0 < code <= 0x10FFFF else None


def _attributes(raw: str, source: str, at: int) -> dict[str, str]:
    found: dict[str, str] = {}
    position = 0
    while position < len(raw):
        if raw[position:].strip() == "":
            break
        match = _ATTRIBUTE.match(raw, position)
        if match is None or match.end() == position:
            raise HtmlParseError(
                f"Expected equal sign in declaration of an attribute at byte offset "
                f"{_byte_offset(source, at)}"
            )
        value = next((group for group in match.groups()[1:] if group is not None), "")
        found[match.group(1).lower()] = html.unescape(value)
        position = match.end()
    return found


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of *source*, or HtmlParseError with Telegram's wording."""
    out: list[str] = []
    length = 0  # UTF-16 length of the text produced so far
    open_tags: list[tuple[str, int, dict[str, str], int]] = []  # name, start offset, attributes, byte offset
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "&":
            match = _ENTITY.match(source, i)
            decoded = _decode_entity(match) if match else None
            if match and decoded is not None:
                out.append(decoded)
                length += _utf16_len(decoded)
                i = match.end()
                continue
        if char != "<":
            out.append(char)
            length += _utf16_len(char)
            i += 1
            continue
        end = source.find(">", i)
        if source.startswith("</", i):
            if end < 0:
                raise HtmlParseError(f"Unclosed end tag at byte offset {_byte_offset(source, i)}")
            name = source[i + 2 : end].strip().lower()
            if not open_tags:
                raise HtmlParseError(f'Unexpected end tag "{name}" at byte offset {_byte_offset(source, i)}')
            expected, start, attributes, _ = open_tags.pop()
            if name != expected:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {_byte_offset(source, i)}, expected "</{expected}>", '
                    f'found "</{name}>"'
                )
            language = attributes.get("class", "")
            if (
                expected == "code"
                and open_tags
                and open_tags[-1][0] == "pre"
                and language.startswith("language-")
            ):
                open_tags[-1][2]["language"] = language.removeprefix(
                    "language-"
                )  # one pre entity, as Telegram
                i = end + 1
                continue
            entity = _entity_for(expected, attributes, start, length)
            if entity is not None:
                entities.append(entity)
            i = end + 1
            continue
        name_match = re.match(r"<([^\s>]*)", source[i:])
        name = name_match.group(1).lower() if name_match else ""
        if name.endswith("/"):
            name = name[:-1]
        if name not in SUPPORTED_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, i)}')
        if end < 0:
            raise HtmlParseError(f"Unclosed start tag at byte offset {_byte_offset(source, i)}")
        attributes = _attributes(source[i + 1 + len(name) : end], source, i)
        open_tags.append((name, length, attributes, _byte_offset(source, i)))
        i = end + 1
    if open_tags:
        name = open_tags[-1][0]
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{name}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(out), entities


def _entity_for(name: str, attributes: dict[str, str], start: int, end: int) -> dict[str, Any] | None:
    if end == start:
        return None
    kind = SUPPORTED_TAGS[name]
    entity: dict[str, Any] = {"type": kind, "offset": start, "length": end - start}
    if name == "a":
        if "href" not in attributes:
            return None
        entity["url"] = attributes["href"]
    elif name == "span" and attributes.get("class") != "tg-spoiler":
        return None
    elif name == "blockquote" and "expandable" in attributes:
        entity["type"] = "expandable_blockquote"
    elif name == "pre" and attributes.get("language"):
        entity["language"] = attributes["language"]
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = attributes.get("emoji-id", "")
    return entity


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (message limits, entity offsets)."""
    return _utf16_len(text)
