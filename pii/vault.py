"""The per-request masking vault: values ↔ typed placeholders, in memory for one request only.

Placeholders are `<TYPE_N>`, numbered per type by first appearance across the whole
conversation the request carries, so a value keeps its placeholder as the conversation grows
(and provider prompt caches stay warm).

Placeholder-shaped text already present in the input (`<EMAIL_1>` typed by a user or planted in
a document) is escaped by reservation: its number is never minted for a real value in this
request, so restoring can only ever produce values from this request's own vault, and a literal
`<EMAIL_1>` comes back as the literal it was.
"""

from __future__ import annotations

import re
from collections import Counter

import orjson

# Longest placeholder the grammar allows: "<" + type (≤ 20) + "_" + number (≤ 9 digits) + ">".
MAX_PLACEHOLDER = 32
PLACEHOLDER_RE = re.compile(r"<([A-Z][A-Z_]{0,19})_([1-9][0-9]{0,8})>")
# Inside JSON text (tool-call arguments) a placeholder may come with any of its characters written
# as a `\u00XX` escape (hex digits in either case): Go's encoder (Ollama, several vLLM front ends)
# writes `<` as `\u003c`, others escape letters too. JSON has no other escape for these characters.
# In JSON text inside a JSON string (an argument that is itself JSON) each level doubles the
# escape's backslash: `\\u003c` two levels deep, four backslashes three levels deep; a run's lowest
# set bit is the escape, the rest of it escaped backslashes. Candidates are decoded, then held to
# PLACEHOLDER_RE like any other.
MAX_DEPTH = 3
ESCAPED_PLACEHOLDER_RE = re.compile(r"(?:<|\\+u003[cC])(?:[A-Z0-9_]|\\+u00[0-9a-fA-F]{2}){3,30}?(?:>|\\+u003[eE])")
_ESCAPE_RE = re.compile(r"(\\+)u00([0-9a-fA-F]{2})")


class Vault:
    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._next: dict[str, int] = {}
        self._reserved: set[str] = set()
        self.counts: Counter[str] = Counter()  # spans masked, per type (what audit and metrics get)
        self.unknown = 0  # placeholder-shaped text in responses that this vault did not mint
        self.json_output = False  # the request asked for JSON output: the reply's text is JSON text

    def __bool__(self) -> bool:
        return bool(self._by_placeholder)

    def reserve_literals(self, text: str) -> None:
        if "<" in text:
            self._reserved.update(m.group(0) for m in PLACEHOLDER_RE.finditer(text))
        if "\\u00" in text:  # written with JSON escapes (`\\u003cEMAIL_1\\u003e`), it is reserved too
            for m in ESCAPED_PLACEHOLDER_RE.finditer(text):
                decoded = _decoded(m.group(0))
                if decoded is not None:
                    self._reserved.add(decoded[1])

    def placeholder(self, type_: str, value: str) -> str:
        self.counts[type_] += 1
        key = (type_, value)
        existing = self._by_value.get(key)
        if existing is not None:
            return existing
        n = self._next.get(type_, 0)
        while True:
            n += 1
            candidate = f"<{type_}_{n}>"
            if candidate not in self._reserved:
                break
        self._next[type_] = n
        self._by_value[key] = candidate
        self._by_placeholder[candidate] = value
        return candidate

    def value(self, placeholder: str) -> str | None:
        return self._by_placeholder.get(placeholder)

    def restore(self, text: str, escape: bool = False) -> str:
        """Replace this vault's placeholders in `text`; `escape` for JSON text (tool-call
        arguments), where values are JSON-escaped and placeholders may be too."""
        if not self._by_placeholder:
            return text
        if escape and "\\u00" in text:
            return ESCAPED_PLACEHOLDER_RE.sub(self._sub_escaped, text)
        if "<" not in text:
            return text
        return PLACEHOLDER_RE.sub(self._sub_json if escape else self._sub, text)

    def _lookup(self, placeholder: str) -> str | None:
        value = self._by_placeholder.get(placeholder)
        if value is None:
            self.unknown += 1
        return value

    def _sub(self, m: re.Match[str]) -> str:
        value = self._lookup(m.group(0))
        return m.group(0) if value is None else value

    def _sub_json(self, m: re.Match[str]) -> str:
        value = self._lookup(m.group(0))
        return m.group(0) if value is None else json_escape(value)

    def _sub_escaped(self, m: re.Match[str]) -> str:
        decoded = _decoded(m.group(0))
        if decoded is None:
            return m.group(0)
        prefix, placeholder, depth = decoded
        value = self._lookup(placeholder)
        if value is None:
            return m.group(0)
        for _ in range(depth):
            value = json_escape(value)
        return prefix + value


def _decoded(text: str) -> tuple[str, str, int] | None:
    """(escaped backslashes before it, the placeholder, how deep in nested JSON strings it sits)
    for an ESCAPED_PLACEHOLDER_RE match; None when it spells no placeholder, its escapes disagree
    on the depth, or a backslash that is text stands inside it."""
    escapes = list(_ESCAPE_RE.finditer(text))
    prefix, depth = "", 1
    if escapes:  # a match never starts inside a run of backslashes: the run is whole
        run = len(escapes[0].group(1))
        unit = run & -run  # the escape's own backslashes; any before them are escaped backslashes
        depth = unit.bit_length()
        if depth > MAX_DEPTH or any(len(e.group(1)) != unit for e in escapes[1:]):
            return None
        if escapes[0].start() == 0:
            prefix = text[: run - unit]
        elif run != unit:
            return None
    decoded = _ESCAPE_RE.sub(lambda e: chr(int(e.group(2), 16)), text)
    return (prefix, decoded, depth) if PLACEHOLDER_RE.fullmatch(decoded) else None


def json_escape(value: str) -> str:
    """`value` as it must appear between the quotes of a JSON string."""
    return orjson.dumps(value).decode()[1:-1]


def json_unescape(text: str) -> str:
    """A piece of a JSON string's contents as it reads (escapes decoded); as it is if the piece
    does not decode on its own (a cut escape, a bare quote)."""
    if "\\" not in text:
        return text
    try:
        value = orjson.loads(f'"{text}"')
    except orjson.JSONDecodeError:
        return text
    return value if isinstance(value, str) else text
