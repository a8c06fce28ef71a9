"""The structure of a text, shared by both detection tiers: table rows split into cells (quotes
respected: a quoted CSV cell may hold the delimiter), the header of the column a value sits in,
the key before a value, and JSON `\\uXXXX` escapes decoded for detection with offsets mapped back.

What a value is labelled as: the key before it, its table column, or the words around it.

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
from collections.abc import Iterator
from dataclasses import dataclass

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
SQL_INSERT = re.compile(r"insert\s+into\s+[\w.\"`\[\]]+\s*\((?P<cols>[^)]{1,2000})\)\s*values", re.IGNORECASE)
_MAX_TABLE_LINES = 400  # how far up a header is looked for; tables in prompts are smaller
_MAX_SQL_LOOKBACK = 8192
_MAX_TABLE_ROWS = 5000  # rows of one INSERT or table read; prompts hold fewer


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


def split_cells(text: str, s: int, e: int, delim: str, quote: str = '"') -> list[tuple[int, int]]:
    """Cells of a delimited line `text[s:e]` as (start, end) offsets; a quoted cell may hold the
    delimiter, and a doubled quote inside it is a literal quote (RFC 4180)."""
    cells: list[tuple[int, int]] = []
    i = cs = s
    inq = False
    while i < e:
        ch = text[i]
        if ch == quote:
            if inq and i + 1 < e and text[i + 1] == quote:
                i += 2
                continue
            inq = not inq
        elif ch == delim and not inq:
            cells.append((cs, i))
            cs = i + 1
        i += 1
    cells.append((cs, e))
    return cells


_CSV_HEADER = re.compile(r"\s*[\w\" .-]+(?:,[\w\" .-]+)+\s*")


def table_header_delimiter(text: str, ls: int, le: int) -> str:
    """The delimiter of the table whose header is the line `text[ls:le]`, or "" when it heads none:
    a Markdown header (next line is `|---|`), a TSV line followed by another, or a CSV header line
    of plain names followed by a data line."""
    line = text[ls:le]
    nxt_end = text.find("\n", le + 1)
    nxt = text[le + 1 : nxt_end if nxt_end >= 0 else len(text)]
    if "|" in line:
        return "|" if MD_SEPARATOR.match(nxt) else ""
    if "\t" in line:
        return "\t" if "\t" in nxt else ""
    return "," if "," in line and "," in nxt and _CSV_HEADER.fullmatch(line) else ""


def table_body_end(text: str, le: int, delim: str, limit: int) -> int:
    """End of the run of lines after `le` that all contain `delim` (a table's body), at most `limit`
    characters on."""
    n = len(text)
    stop = min(n, le + limit)
    pos = le
    while pos < stop:
        nxt = text.find("\n", pos + 1)
        nxt = n if nxt < 0 else nxt
        if delim not in text[pos + 1 : nxt]:
            break
        pos = nxt
    return pos


def cell_index(text: str, ls: int, pos: int, delim: str) -> int:
    """Which cell of the line starting at `ls` holds `pos` (quotes respected)."""
    return len(split_cells(text, ls, pos, delim)) - 1


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
    if sep == "," and any(ch.isdigit() for ch in text[top[0] : top[1]]):
        return None  # a comma-separated line with numbers is data or prose, not a header
    cells = split_cells(text, top[0], top[1], sep)
    idx = cell_index(text, ls, pos, sep)
    return text[cells[idx][0] : cells[idx][1]].strip().strip("\"'") if idx < len(cells) else None


def sql_columns(m: re.Match[str]) -> list[str]:
    """The column names of an `INSERT INTO t (cols) VALUES` match, unquoted."""
    return [c.strip().strip('"`[]') for c in m.group("cols").split(",")]


def sql_rows(text: str, at: int, limit: int) -> Iterator[list[tuple[int, int]]]:
    """The value tuples after an INSERT's `VALUES` (from `at`), each as its cells' (start, end):
    quotes respected ('' is a quote inside one), parentheses nested (`NOW()`), at most `limit`."""
    n = len(text)
    i = at
    for _ in range(limit):
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n or text[i] != "(":
            return
        j, depth, inq = i + 1, 1, False
        while j < n:  # the tuple's closing paren, outside quotes and inner calls
            ch = text[j]
            if ch == "'":
                if inq and j + 1 < n and text[j + 1] == "'":
                    j += 2
                    continue
                inq = not inq
            elif not inq and ch == "(":
                depth += 1
            elif not inq and ch == ")":
                depth -= 1
                if not depth:
                    break
            j += 1
        yield split_cells(text, i + 1, j, ",", "'")
        i = j + 1


def _sql_column(text: str, low: str, pos: int) -> str | None:
    lo = max(0, pos - _MAX_SQL_LOOKBACK)
    at = low.rfind("values", lo, pos)
    if at < 0:
        return None
    ins = low.rfind("insert", lo, at)
    m = SQL_INSERT.fullmatch(text, ins, at + 6) if ins >= 0 else None
    if m is None:
        return None
    cols = sql_columns(m)
    for cells in sql_rows(text, m.end(), _MAX_TABLE_ROWS):
        if cells and cells[0][0] > pos:
            return None
        for idx, (cs, ce) in enumerate(cells):
            if cs <= pos <= ce:
                return cols[idx] if idx < len(cols) else None
    return None


@dataclass(frozen=True, slots=True)
class Table:
    """A delimited table: its header cells and, for each body row, its cells, as (start, end)."""

    delim: str
    header: list[tuple[int, int]]
    rows: list[list[tuple[int, int]]]


_MD_RULE = re.compile(r"\s*\|?[\s:|-]+\|?\s*")


def _row_cells(text: str, ls: int, le: int, delim: str, header: bool = False) -> list[tuple[int, int]] | None:
    """A line's cells; a Markdown row loses its outer pipes (None for a body row without the
    leading one: the table has ended)."""
    if delim != "|":
        return split_cells(text, ls, le, delim, '"')
    line = text[ls:le]
    if not header and not line.lstrip().startswith("|"):
        return None
    s0 = text.index("|", ls) + 1
    e0 = text.rindex("|", ls, le) if line.rstrip().endswith("|") else le
    return split_cells(text, s0, e0, delim, '"')


def tables(text: str, max_rows: int) -> Iterator[Table]:
    """Every CSV/TSV/Markdown table in the text, read top down: a header line (see
    table_header_delimiter) and the rows under it with as many cells (quotes respected), at most
    `max_rows` each. A Markdown separator row is skipped."""
    n = len(text)
    ls = 0
    while ls < n:
        le = text.find("\n", ls)
        le = n if le < 0 else le
        delim = table_header_delimiter(text, ls, le) if le < n else ""
        header = _row_cells(text, ls, le, delim, header=True) if delim else None
        if not header or len(header) < 2:
            ls = le + 1
            continue
        rows: list[list[tuple[int, int]]] = []
        rs = le + 1
        while rs < n and len(rows) < max_rows:
            re_ = text.find("\n", rs)
            re_ = n if re_ < 0 else re_
            if delim == "|" and _MD_RULE.fullmatch(text, rs, re_):
                rs = re_ + 1
                continue
            cells = _row_cells(text, rs, re_, delim) if delim in text[rs:re_] else None
            if cells is None or len(cells) != len(header):
                break
            rows.append(cells)
            rs = re_ + 1
        yield Table(delim, header, rows)
        ls = rs if rows else le + 1


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


# --- JSON string escapes ---------------------------------------------------------------------

_UNICODE_ESCAPE = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})")


class Decoded:
    """A text with its `\\uXXXX` escapes (surrogate pairs included) decoded, and the way back:
    `span(s, e)` turns offsets in the decoded text into offsets in the original. Other escapes
    (`\\n`, `\\"`) stay as they are, so lines, quotes and cells keep their shape."""

    __slots__ = ("_starts", "text")

    def __init__(self, text: str) -> None:
        parts: list[str] = []
        starts: list[int] = []  # original offset of each decoded character, plus the end
        pos = 0
        for m in _UNICODE_ESCAPE.finditer(text):
            if m.group(3) is not None:
                ch = chr(int(m.group(3), 16))
                if 0xD800 <= ord(ch) <= 0xDFFF:
                    continue  # a lone surrogate is no character: leave the escape as written
            else:
                hi, lo = int(m.group(1), 16), int(m.group(2), 16)
                ch = chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
            parts.append(text[pos : m.start()])
            starts.extend(range(pos, m.start()))
            parts.append(ch)
            starts.append(m.start())
            pos = m.end()
        parts.append(text[pos:])
        starts.extend(range(pos, len(text) + 1))
        self.text = "".join(parts)
        self._starts = starts

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the decoded `[start, end)`: an escape is covered whole."""
        return self._starts[start], self._starts[end]


def has_unicode_escape(text: str) -> bool:
    return "\\u" in text and _UNICODE_ESCAPE.search(text) is not None
