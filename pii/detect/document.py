"""The text a detector reads, what it derives from it once (lower case, label-word positions,
regions around labels and the tables they head), and how a value's label is judged."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from pii import patterns as pt
from pii import structure as st


@dataclass(frozen=True, slots=True)
class Span:
    start: int  # Python str offsets
    end: int
    type: str  # one of TYPES


TYPES: frozenset[str] = frozenset(
    {
        "EMAIL", "PHONE", "IP_ADDRESS", "DATE_OF_BIRTH", "CREDIT_CARD", "IBAN", "NATIONAL_ID", "API_KEY", "JWT",
        "CONNECTION_STRING", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PRIVATE_KEY",
    }
)  # fmt: skip

# Tie-break between equally long spans: the more specific detector wins (lower is stronger).
_PRIO = {
    "PRIVATE_KEY": 0, "CONNECTION_STRING": 1, "JWT": 2, "AWS_ACCESS_KEY": 3, "AWS_SECRET_KEY": 4, "API_KEY": 5,
    "IBAN": 6, "CREDIT_CARD": 7, "NATIONAL_ID": 8, "EMAIL": 9, "PHONE": 10, "IP_ADDRESS": 11, "DATE_OF_BIRTH": 12,
}  # fmt: skip
_GENERIC_PRIO = 20  # keyword+entropy secrets lose ties to anything validated

# (start, end, type, priority). No confidence score: a candidate exists only once validated (check
# digits, a label, a provider's exact shape, entropy), so a per-type floor would never bite.
_Cand = tuple[int, int, str, int]

_TRAIL_PUNCT = ".,;:!?)]}'\"`>"
_NON_DIGIT = re.compile(r"\D")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPS = re.compile(r"[_\-./:#()\[\]\"'`*|\\]+")
_DIGITS = "0123456789"
_SEP_SPACES = str.maketrans({c: " " for c in "_-./:#()[]\"'`*|\\"})


def _norm(label: str) -> str:
    """`dateOfBirth` / `birth_date` / `D.O.B.` -> words: camelCase split, separators as spaces, lower."""
    return _SEPS.sub(" ", _CAMEL.sub(" ", label)).lower()


def _has_digit(text: str) -> bool:
    return any(d in text for d in _DIGITS)


def _near(positions: list[int], start: int, end: int) -> bool:
    """Is a label word close enough to be the value's label in prose or a key?"""
    i = bisect.bisect_left(positions, start - st.LEFT_WINDOW - 8)
    return i < len(positions) and positions[i] <= end + st.RIGHT_WINDOW


# Where a labelled value can be, relative to its label word: after it ("their SSN is …") or, less
# often, right before it ("1990-01-13 (date of birth)").
_REGION_BEFORE = 40
_REGION_AFTER = 96
_TABLE_MAX = 256 * 1024  # how far down a labelled column is followed


class _Doc:
    """The text plus what several detectors derive from it, each computed once and only if asked."""

    __slots__ = ("_gates", "_low", "n", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self._low: str | None = None
        self._gates: dict[str, list[int]] | None = None

    @property
    def low(self) -> str:
        """text.lower(), index for index: offsets found in it are offsets into text."""
        if self._low is None:
            low = self.text.lower()
            if len(low) != self.n:  # "İ".lower() is two code points; keep such characters as they are
                low = "".join(c if len(c.lower()) != 1 else c.lower() for c in self.text)
            self._low = low
        return self._low

    def hits(self, group: str) -> list[int]:
        """Sorted positions of a group's label words (pii/patterns.py LABEL_GATES), all groups found
        in one pass. Short words count only at a word start or camelCase hump, so `using` is no
        `sin` and `hotel` no `tel`; long ones count anywhere (`dateofbirth`)."""
        if self._gates is None:
            gates: dict[str, list[int]] = {}
            text = self.text
            other = not text.isascii() and pt.OTHER_SCRIPT.search(text) is not None
            passes = (pt.LABEL_WORD, pt.LABEL_WORD_OTHER) if other else (pt.LABEL_WORD,)
            for rx in passes:
                for m in rx.finditer(self.low):
                    w, i = m.group(), m.start()
                    # (Han, kana and Hangul write words without breaks: a label there counts anywhere.)
                    word_start = len(w) > 4 or i == 0 or not text[i - 1].isalpha() or text[i].isupper() or w >= "\u2e80"
                    for g in pt.LABEL_GROUPS[w]:
                        if word_start or g == "secret":
                            gates.setdefault(g, []).append(i)
            if len(passes) > 1:
                for positions in gates.values():
                    positions.sort()
            self._gates = gates
        return self._gates.get(group, [])

    def in_table_line(self, pos: int) -> bool:
        t = self.text
        ls = t.rfind("\n", 0, pos) + 1
        le = t.find("\n", pos)
        line = t[ls : le if le >= 0 else self.n]
        return "|" in line or "\t" in line or "," in line or "(" in line

    def label(self, start: int, end: int) -> tuple[str, str, bool]:
        """The value's label, normalised: (left, right, structured); see pii/structure.py. A key or
        column also gets camelCase split; prose windows keep their length (separators become
        spaces one for one), so an offset in them is an offset in the original window."""
        left, right, structured = st.label_of(self.text, start, end, self.low)
        if structured:
            return _norm(left), "", True
        return left.lower().translate(_SEP_SPACES), right.lower().translate(_SEP_SPACES), False

    def raw_left(self, start: int) -> str:
        return self.text[max(0, start - st.LEFT_WINDOW) : start]

    def regions(self, positions: list[int]) -> list[tuple[int, int]]:
        """Merged text ranges where a value labelled by one of `positions` can sit: around the word,
        and, when the word is a table header (Markdown, TSV, CSV, SQL column list), its table."""
        t, n, low = self.text, self.n, self.low
        spans: list[tuple[int, int]] = []
        last_table_line = -1
        for p in positions:
            spans.append((max(0, p - _REGION_BEFORE), min(n, p + _REGION_AFTER)))
            ls = t.rfind("\n", 0, p) + 1
            if ls == last_table_line:
                continue
            le = t.find("\n", p)
            le = n if le < 0 else le
            delim = st.table_header_delimiter(t, ls, le)
            if delim:
                end = st.table_body_end(t, le, delim, _TABLE_MAX)
                if end > le:
                    spans.append((le, end))
                    last_table_line = ls
            elif low.rfind("insert", max(0, p - 512), p) >= 0:
                v = low.find("values", p, p + 2048)
                if v >= 0 and ";" not in t[p:v]:
                    semi = t.find(";", v)
                    spans.append((v, min(n, v + _TABLE_MAX) if semi < 0 else semi))
        if not spans:
            return []
        spans.sort()
        merged = [list(spans[0])]
        for s, e in spans[1:]:
            if s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        out: list[tuple[int, int]] = []
        for s0, e in merged:
            # Widen to whitespace so no token is cut in half at a region's edge.
            s = s0
            while s > 0 and not t[s - 1].isspace() and s0 - s < 64:
                s -= 1
            stop = min(n, e + 64)
            while e < stop and not t[e].isspace():
                e += 1
            out.append((s, e))
        return out


def _labelled(
    doc: _Doc,
    start: int,
    end: int,
    positive: re.Pattern[str],
    gate: list[int],
    *,
    nearest: bool = True,
    filler: re.Pattern[str] | None = None,
) -> bool:
    """Does the value's label name it with `positive`? In prose, a negative label word (order,
    tracking, ...) closer to the value than the positive one overrules it; with `filler`, only
    filler words may stand between the label and the value ("born on", "DOB is")."""
    if not _near(gate, start, end) and not doc.in_table_line(start):
        return False
    left, right, structured = doc.label(start, end)
    if structured:
        return bool(positive.search(left))
    pos = None
    for pos in positive.finditer(left):  # noqa: B007 - the last hit is the one nearest the value
        pass
    if not nearest:
        return pos is not None or bool(positive.search(right))
    neg = None
    for neg in pt.NEGATIVE_LABEL.finditer(left):  # noqa: B007
        pass
    if (
        pos is not None
        and (neg is None or neg.end() <= pos.end())
        and (filler is None or filler.fullmatch(doc.raw_left(start), pos.end()))
    ):
        return True
    after = positive.search(right)  # "1990-01-13 (date of birth)"
    return after is not None and not right[: after.start()].strip() and (neg is None or pos is not None)


def _negatively_labelled(doc: _Doc, start: int, end: int, positive: re.Pattern[str]) -> bool:
    """For values that stand on their own (cards, NANP phones): is the nearest label another kind
    of number's (order, tracking, ...)?"""
    left, _, structured = doc.label(start, end)
    if structured:
        return bool(pt.NEGATIVE_LABEL.search(left)) and not positive.search(left)
    neg = None
    for neg in pt.NEGATIVE_LABEL.finditer(left):  # noqa: B007
        pass
    if neg is None:
        return False
    pos = None
    for pos in positive.finditer(left):  # noqa: B007
        pass
    return pos is None or neg.end() > pos.end()


def _strip_trailing(text: str, s: int, e: int, chars: str = _TRAIL_PUNCT) -> int:
    while e > s and text[e - 1] in chars:
        e -= 1
    return e


def _find_all(hay: str, needle: str) -> list[int]:
    out = []
    i = hay.find(needle)
    while i >= 0:
        out.append(i)
        i = hay.find(needle, i + 1)
    return out


def _line_of(text: str, pos: int, reach: int = 2048) -> tuple[int, int]:
    ls = max(text.rfind("\n", 0, pos) + 1, pos - reach)
    le = text.find("\n", pos)
    le = len(text) if le < 0 else le
    return ls, min(le, pos + reach)
