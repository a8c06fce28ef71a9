"""What a value is labelled as: the key before it, its table column, or the words around it.

Ambiguous values (a bare 9-digit run, a date, a local phone number) are only PII when their label
says so. Prompts carry labels in four shapes, checked in this order:

1. a table column: Markdown pipe tables, TSV/CSV with a header line, SQL `INSERT ... (cols) VALUES`;
2. a key right before the value: `"dob": "…"`, `ssn=…`, `DOB: …`, `MOBILE = '…'`;
3. otherwise the prose just around it: "their SSN is …", "born on …".

Only the value's own label counts when there is one, so `"created_at": "2024-01-02"` next to a
`"dob"` key is not a date of birth.
"""

from __future__ import annotations

import re

# Prose context: characters before and after a value that may hold its label. A sentence like
# "For the background check, their SSN is" puts the word within ~30 characters.
LEFT_WINDOW = 48
RIGHT_WINDOW = 24

# A key right before the value: identifier-ish words, then `:`, `=`, `=>` or `:=`, optional quote.
# A key right before the value, matched on the reversed left window so the match is anchored
# (a `...$` search would retry from every start). Up to four words; dots only inside a word or
# ending the last one ("No.", "D.O.B."), so a sentence end ("... that phone. SSN:") stays out.
_KV_KEY_REVERSED = re.compile(
    r"""\s*(?:["']\\{0,2})?\s*(?:>=|=:|[:=])\s*(?:["']\\{0,2})?\s*"""  # \"key\": \"…\" inside JSON strings too
    r"(\.?[\w\-()#]+(?:\.[\w\-()#]+)*(?: [\w\-()#]+(?:\.[\w\-()#]+)*){0,3})"
)
MD_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_SQL_INSERT = re.compile(r"insert\s+into\s+[\w.\"`\[\]]+\s*\(([^)]*)\)\s*values$", re.IGNORECASE)
_MAX_TABLE_LINES = 400  # how far up a header is looked for; tables in prompts are smaller
_MAX_SQL_LOOKBACK = 8192


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    ls = text.rfind("\n", 0, pos) + 1
    le = text.find("\n", pos)
    return ls, len(text) if le < 0 else le


def _prev_line(text: str, ls: int) -> tuple[int, int] | None:
    if ls == 0:
        return None
    pe = ls - 1
    return text.rfind("\n", 0, pe) + 1, pe


def _markdown_header(text: str, pos: int, ls: int, le: int) -> str | None:
    idx = text.count("|", ls, pos)
    cur: tuple[int, int] | None = (ls, le)
    for _ in range(_MAX_TABLE_LINES):
        cur = _prev_line(text, cur[0]) if cur else None
        if cur is None:
            return None
        line = text[cur[0] : cur[1]]
        if "|" not in line:
            return None
        if MD_SEPARATOR.match(line):
            head = _prev_line(text, cur[0])
            if head is None:
                return None
            cells = text[head[0] : head[1]].split("|")
            return cells[idx].strip() if idx < len(cells) else None
    return None


def _delimited_header(text: str, pos: int, ls: int, le: int, sep: str) -> str | None:
    """TSV/CSV: the header is the first line of the block of lines that all hold `sep`."""
    cur = (ls, le)
    top: tuple[int, int] | None = None
    for _ in range(_MAX_TABLE_LINES):
        prev = _prev_line(text, cur[0])
        if prev is None or sep not in text[prev[0] : prev[1]]:
            break
        top = cur = prev
    if top is None:
        return None
    header = text[top[0] : top[1]]
    if sep == "," and any(ch.isdigit() for ch in header):
        return None  # a comma-separated line with numbers is data or prose, not a header
    cells = header.split(sep)
    idx = text.count(sep, ls, pos)
    return cells[idx].strip().strip("\"'") if idx < len(cells) else None


def _sql_column(text: str, low: str, pos: int) -> str | None:
    lo = max(0, pos - _MAX_SQL_LOOKBACK)
    at = low.rfind("values", lo, pos)
    if at < 0:
        return None
    ins = low.rfind("insert", lo, at)
    m = _SQL_INSERT.match(text, ins, at + 6) if ins >= 0 else None
    if m is None:
        return None
    window = text[at:pos]
    cols = [c.strip().strip('"`[]') for c in m.group(1).split(",")]
    idx, depth, quote = 0, 0, ""
    for ch in window[6:]:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
            if depth == 1:
                idx = 0
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 1:
            idx += 1
    return cols[idx] if depth == 1 and idx < len(cols) else None


def column_header(text: str, pos: int, low: str | None = None) -> str | None:
    """The header of the table column `pos` sits in, or None when it is not in a table.
    `low` is text.lower(), passed in by callers that already have it."""
    ls, le = _line_bounds(text, pos)
    line = text[ls:le]
    if "|" in line:
        return _markdown_header(text, pos, ls, le)
    if "\t" in line:
        return _delimited_header(text, pos, ls, le, "\t")
    if low is None:
        low = text.lower()
    col = _sql_column(text, low, pos) if "values" in low else None
    if col is not None:
        return col
    if "," in line and "=" not in line and ":" not in line:
        return _delimited_header(text, pos, ls, le, ",")
    return None


def label_of(text: str, start: int, end: int, low: str | None = None) -> tuple[str, str, bool]:
    """(left, right, is_structured). For a table column or a key, left is that label and right is
    empty (is_structured); otherwise they are the prose windows before and after the value."""
    head = column_header(text, start, low)
    if head:
        return head, "", True
    left = text[max(0, start - LEFT_WINDOW) : start]
    m = _KV_KEY_REVERSED.match(left[::-1])
    if m:
        return m.group(1)[::-1], "", True
    return left, text[end : end + RIGHT_WINDOW], False
