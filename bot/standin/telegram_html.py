"""Telegram's HTML parse mode, as the Bot API server applies it to outgoing text.

Turns the bot's HTML into plain text plus MessageEntity dicts (offsets in UTF-16
code units, as Telegram counts them) and rejects what Telegram would reject with
"Bad Request: can't parse entities: ...".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Telegram's own tag set; anything else is "Unsupported start tag".
_SIMPLE_TAGS: dict[str, str] = {
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
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_ATTR_TAGS = {"a", "span"}
SUPPORTED_TAGS = frozenset(_SIMPLE_TAGS) | _ATTR_TAGS

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_\-]+")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; str() is the part after "can't parse entities: "."""


@dataclass
class ParsedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Open:
    tag: str
    start: int  # UTF-16 offset in the output where the tag's content starts
    attrs: dict[str, str]


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: astral characters (most emoji) take two units."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    # Telegram reports error positions in UTF-8 bytes of the request text.
    return len(source[:index].encode("utf-8"))


def _decode_entity(source: str, index: int) -> tuple[str, int]:
    """Decode the HTML entity at source[index] == "&"; returns (character, next index)."""
    match = _ENTITY_RE.match(source, index)
    if match is None:
        raise EntityParseError(
            f'Character "&" must be escaped as "&amp;": unsupported HTML entity at byte offset '
            f"{_byte_offset(source, index)}"
        )
    named, decimal, hexadecimal = match.groups()
    if named:
        return _NAMED_ENTITIES[named], match.end()
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(
            f"Invalid character code in HTML entity at byte offset {_byte_offset(source, index)}"
        )
    return chr(code), match.end()


def _parse_attrs(source: str, index: int, tag: str, tag_pos: int) -> tuple[dict[str, str], int]:
    """Parse attributes up to and including ">"; returns (attrs, index after ">")."""
    attrs: dict[str, str] = {}
    n = len(source)
    while True:
        while index < n and source[index].isspace():
            index += 1
        if index >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, tag_pos)}")
        if source[index] == ">":
            return attrs, index + 1
        name_match = _ATTR_NAME_RE.match(source, index)
        if name_match is None:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(source, tag_pos)}'
            )
        name = name_match.group().lower()
        index = name_match.end()
        while index < n and source[index].isspace():
            index += 1
        if index < n and source[index] != "=":
            # A bare attribute such as <blockquote expandable>.
            attrs[name] = ""
            continue
        index += 1
        while index < n and source[index].isspace():
            index += 1
        if index >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, tag_pos)}")
        value_chars: list[str] = []
        quote = source[index] if source[index] in "\"'" else ""
        if quote:
            index += 1
        while True:
            if index >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, tag_pos)}")
            ch = source[index]
            if (quote and ch == quote) or (not quote and (ch.isspace() or ch == ">")):
                break
            if ch == "&":
                decoded, index = _decode_entity(source, index)
                value_chars.append(decoded)
                continue
            value_chars.append(ch)
            index += 1
        if quote:
            index += 1
        attrs[name] = "".join(value_chars)


def _entity_for(opened: _Open, length: int) -> dict[str, Any] | None:
    """The MessageEntity a closed tag produces, or None when it yields no formatting."""
    if length <= 0:
        return None
    base: dict[str, Any] = {"offset": opened.start, "length": length}
    if opened.tag == "a":
        href = opened.attrs.get("href", "").strip()
        if not href:
            return None
        return {"type": "text_link", **base, "url": href}
    if opened.tag == "span":
        return {"type": "spoiler", **base}
    if opened.tag == "blockquote" and "expandable" in opened.attrs:
        return {"type": "expandable_blockquote", **base}
    entity = {"type": _SIMPLE_TAGS[opened.tag], **base}
    if opened.tag == "code":
        css = opened.attrs.get("class", "")
        if css.startswith("language-"):
            entity["language"] = css.removeprefix("language-")
    return entity


def parse_html(source: str) -> ParsedText:
    """Parse Telegram HTML into plain text and entities; raises EntityParseError like Telegram."""
    out: list[str] = []
    pos16 = 0  # UTF-16 length of what is in `out` so far
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            decoded, i = _decode_entity(source, i)
            out.append(decoded)
            pos16 += utf16_len(decoded)
            continue
        if ch != "<":
            out.append(ch)
            pos16 += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue
        tag_pos = i
        if i + 1 < n and source[i + 1] == "/":
            close = source.find(">", i)
            if close < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, tag_pos)}")
            name = source[i + 2 : close].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(source, tag_pos)}")
            if stack[-1].tag != name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, tag_pos)}, "
                    f'expected "</{stack[-1].tag}>", found "</{name}>"'
                )
            opened = stack.pop()
            entity = _entity_for(opened, pos16 - opened.start)
            if entity is not None:
                entities.append(entity)
            i = close + 1
            continue
        j = i + 1
        # Like Telegram, the tag name runs to the first space or ">", so "< 3" is tag "".
        while j < n and not source[j].isspace() and source[j] != ">":
            j += 1
        name = source[i + 1 : j].lower()
        if name not in SUPPORTED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, tag_pos)}'
            )
        attrs, i = _parse_attrs(source, j, name, tag_pos)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, tag_pos)}'
            )
        stack.append(_Open(name, pos16, attrs))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities = _merge_pre_code(entities)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


def _merge_pre_code(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """<pre><code class="language-x"> is one pre entity with a language, as Telegram reports it."""
    pres = [e for e in entities if e["type"] == "pre"]
    result: list[dict[str, Any]] = []
    for entity in entities:
        if entity["type"] == "code":
            outer = next(
                (p for p in pres if p["offset"] == entity["offset"] and p["length"] == entity["length"]), None
            )
            if outer is not None:
                if "language" in entity:
                    outer["language"] = entity["language"]
                continue
        result.append(entity)
    return result


def strip_text(parsed: ParsedText) -> ParsedText:
    """Trim surrounding whitespace as Telegram does, shifting and clipping entities to match."""
    text = parsed.text
    stripped = text.strip()
    if stripped == text:
        return parsed
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    new_len = utf16_len(stripped)
    entities: list[dict[str, Any]] = []
    for entity in parsed.entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, new_len)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, entities)
