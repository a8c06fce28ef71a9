"""Pattern tier of PII and secret detection: pure, synchronous, no I/O.

The package by concern: `document` (the text and its labels), `secrets`, `contact`, `numbers`; this
module runs them and resolves overlaps.

`detect(text)` returns non-overlapping typed spans. Each detector finds candidates with a regex
compiled once (pii/patterns.py), then keeps only validated ones: check digits (Luhn, mod-97,
Verhoeff, 11-test, DNI letter), a label that says what an ambiguous value is (pii/structure.py),
JSON structure (JWT headers) or entropy (generic secrets). Overlaps are resolved once, at the end:
the longest span wins, ties go to the more specific detector.

Clean text is fast because every pass is gated by a substring test (`'@' in text`, a digit, a
provider prefix, a label word) before any regex runs over the text.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from pii import structure as st
from pii.detect.contact import _emails, _ipv6, _phones
from pii.detect.document import TYPES, Span, _Cand, _Doc, _has_digit
from pii.detect.numbers import _dates_of_birth, _labelled_ids, _letter_codes, _numbers
from pii.detect.secrets import (
    _aws_access_keys,
    _aws_secret_keys,
    _connection_strings,
    _generic_secrets,
    _jwts,
    _private_keys,
    _provider_keys,
    _signed_urls,
)

__all__ = ["TYPES", "Span", "detect"]

# --- driver --------------------------------------------------------------------------------

_Detector = Callable[[_Doc, frozenset[str], list[_Cand]], None]
# (types a detector can emit, whether it can only fire on text with a digit, detector)
_DETECTORS: tuple[tuple[frozenset[str], bool, _Detector], ...] = (
    (frozenset({"PRIVATE_KEY"}), False, _private_keys),
    (frozenset({"JWT"}), False, _jwts),
    (frozenset({"AWS_ACCESS_KEY"}), False, _aws_access_keys),
    (frozenset({"AWS_SECRET_KEY"}), True, _aws_secret_keys),
    (frozenset({"CONNECTION_STRING"}), False, _connection_strings),
    (frozenset({"API_KEY"}), False, _provider_keys),
    (frozenset({"API_KEY"}), False, _generic_secrets),
    (frozenset({"API_KEY"}), False, _signed_urls),
    (frozenset({"EMAIL"}), False, _emails),
    (frozenset({"PHONE"}), True, _phones),
    (frozenset({"IP_ADDRESS"}), False, _ipv6),
    (frozenset({"CREDIT_CARD", "NATIONAL_ID", "PHONE", "IP_ADDRESS"}), True, _numbers),
    (frozenset({"IBAN", "NATIONAL_ID"}), True, _letter_codes),
    (frozenset({"DATE_OF_BIRTH"}), True, _dates_of_birth),
    (frozenset({"NATIONAL_ID"}), True, _labelled_ids),
)


def _resolve(cands: list[_Cand]) -> list[Span]:
    """Longest span first; among equals the stronger detector; a span overlapping an accepted one
    is dropped whole (a partial span would leave the rest of a value in clear)."""
    cands.sort(key=lambda c: (c[0] - c[1], c[3], c[0]))
    starts: list[int] = []
    ends: list[int] = []
    kept: list[_Cand] = []
    for c in cands:
        s, e = c[0], c[1]
        i = bisect.bisect_left(starts, s)
        if (i and ends[i - 1] > s) or (i < len(starts) and starts[i] < e):
            continue
        starts.insert(i, s)
        ends.insert(i, e)
        kept.insert(i, c)
    return [Span(c[0], c[1], c[2]) for c in kept]


def detect(text: str, types: frozenset[str] | None = None) -> list[Span]:
    """Non-overlapping spans sorted by start; only the given types (None = all pattern types).

    Detectors for types not asked for do not run, so they cannot claim text either. Text with JSON
    `\\uXXXX` escapes (`Jos\\u00e9`, `jane\\u0040corp.io`) is detected decoded and the spans
    are mapped back onto the escapes."""
    if not text:
        return []
    want = TYPES if types is None else types & TYPES
    if not want:
        return []
    if st.has_unicode_escape(text):
        decoded = st.Decoded(text)
        return [Span(*decoded.span(s.start, s.end), s.type) for s in _detect(decoded.text, want)]
    return _detect(text, want)


def _detect(text: str, want: frozenset[str]) -> list[Span]:
    doc = _Doc(text)
    digit = _has_digit(text)
    cands: list[_Cand] = []
    for emits, needs_digit, fn in _DETECTORS:
        if emits & want and (digit or not needs_digit):
            fn(doc, want, cands)
    cands = [c for c in cands if c[2] in want and c[1] > c[0]]
    return _resolve(cands)
