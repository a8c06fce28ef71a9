"""Pattern tier of PII and secret detection: pure, synchronous, no I/O.

`detect(text)` returns non-overlapping typed spans. Each detector finds candidates with a regex
compiled once (pii/patterns.py), then keeps only validated ones: check digits (Luhn, mod-97,
Verhoeff, 11-test, DNI letter), a label that says what an ambiguous value is (pii/structure.py),
JSON structure (JWT headers) or entropy (generic secrets). Overlaps are resolved once, at the end:
the longest span wins, ties go to the more specific detector.

Clean text is fast because every pass is gated by a substring test (`'@' in text`, a digit, a
provider prefix, a label word) before any regex runs over the text.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from pii import checksums as ck
from pii import patterns as pt
from pii import secret_rules as sr
from pii import structure as st

try:  # libphonenumber metadata; without it, phone numbers are checked by shape and length only
    import phonenumbers as _pn
except ImportError:  # pragma: no cover - exercised only where the pinned package is missing
    _pn = None


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

# Per-type confidence floors. Candidates carry a confidence: ~0.95 checksum- or structure-validated,
# ~0.8 labelled by context, lower for shape-only evidence. A floor of zero would keep every
# regex hit, so none is.
MIN_CONFIDENCE: dict[str, float] = {t: 0.5 for t in TYPES}
assert all(v > 0 for v in MIN_CONFIDENCE.values())

# Tie-break between equally long spans: the more specific detector wins (lower is stronger).
_PRIO = {
    "PRIVATE_KEY": 0, "CONNECTION_STRING": 1, "JWT": 2, "AWS_ACCESS_KEY": 3, "AWS_SECRET_KEY": 4, "API_KEY": 5,
    "IBAN": 6, "CREDIT_CARD": 7, "NATIONAL_ID": 8, "EMAIL": 9, "PHONE": 10, "IP_ADDRESS": 11, "DATE_OF_BIRTH": 12,
}  # fmt: skip
_GENERIC_PRIO = 20  # keyword+entropy secrets lose ties to anything validated

# (start, end, type, confidence, priority)
_Cand = tuple[int, int, str, float, int]

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
            for m in pt.LABEL_WORD.finditer(self.low):
                w, i = m.group(), m.start()
                word_start = len(w) > 4 or i == 0 or not text[i - 1].isalpha() or text[i].isupper()
                for g in pt.LABEL_GROUPS[w]:
                    if word_start or g == "secret":
                        gates.setdefault(g, []).append(i)
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


# --- structural secrets --------------------------------------------------------------------


def _private_keys(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    text = doc.text
    if "-----BEGIN" not in text:
        return
    for m in pt.PEM_BEGIN.finditer(text):
        end_line = f"-----END {m.group(1)}PRIVATE KEY{m.group(2) or ''}-----"
        j = text.find(end_line, m.end(), m.end() + pt.PEM_MAX)
        body = pt.PEM_BODY.match(text, m.end(), j if j >= 0 else m.end() + pt.PEM_MAX)
        if j >= 0 and body and body.end() == j:
            end = j + len(end_line)
        else:  # a truncated paste (or only the marker, as in code): the key runs as far as its body
            end = body.end() if body else m.end()
            while end > m.end():
                if text[end - 2 : end] in ("\\n", "\\r"):
                    end -= 2
                elif text[end - 1].isspace() or text[end - 1] == "\\":
                    end -= 1
                else:
                    break
            if sum(c.isalnum() for c in text[m.end() : end]) < 32:
                continue  # a BEGIN line with no key material is not a secret
        out.append((m.start(), end, "PRIVATE_KEY", 0.99, _PRIO["PRIVATE_KEY"]))


def _b64url_json(part: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        return None


def _jwts(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    text = doc.text
    if "eyJ" not in text:
        return
    for m in pt.JWT.finditer(text):
        s = m.start()
        if s and (text[s - 1].isalnum() or text[s - 1] in "_-"):
            continue
        header = _b64url_json(m.group().split(".", 1)[0])
        if isinstance(header, dict) and "alg" in header:
            out.append((s, m.end(), "JWT", 0.99, _PRIO["JWT"]))


def _aws_access_keys(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    text = doc.text
    if "A" not in text:
        return
    for m in pt.AWS_ACCESS_KEY.finditer(text):
        s = m.start()
        if (s and text[s - 1].isalnum()) or _degenerate(m.group()[4:]):
            continue  # AWS's own documentation key (…EXAMPLE) is kept: a key's shape is enough
        out.append((s, m.end(), "AWS_ACCESS_KEY", 0.95, _PRIO["AWS_ACCESS_KEY"]))


def _mixed_case_digits(v: str) -> bool:
    return any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v)


def _aws_secret_keys(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    gate = doc.hits("aws")
    if not gate:
        return
    text = doc.text
    for rs, re_ in doc.regions(gate):
        for m in pt.AWS_SECRET_VALUE.finditer(text, rs, re_):
            v = m.group()
            if not _mixed_case_digits(v) or pt.PLACEHOLDER_HINT.search(v):
                continue
            if _labelled(doc, m.start(), m.end(), pt.AWS_SECRET_LABEL, gate, nearest=False):
                out.append((m.start(), m.end(), "AWS_SECRET_KEY", 0.9, _PRIO["AWS_SECRET_KEY"]))


# --- connection strings --------------------------------------------------------------------

_PLACEHOLDER_PASSWORDS = frozenset(
    {"password", "pass", "passwd", "pwd", "secret", "changeme", "pw", "xxx", "xxxx", "redacted", "mask", "masked"}
    | {"none", "null", "nil", "undefined", "empty", "true", "false", "password1", "password123", "secret123"}
)
_PLACEHOLDER_CRED = re.compile(r"\$\{|\{\{|<|>|\[|\]|%\(|\*{3,}|x{4,}|X{4,}|•|\.\.\.")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def _placeholder_credential(v: str) -> bool:
    v = v.strip()
    if not v or v.lower() in _PLACEHOLDER_PASSWORDS or v.startswith("$"):
        return True
    return bool(_PLACEHOLDER_CRED.search(v))


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


def _connection_strings(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    text, low = doc.text, doc.low
    prio = _PRIO["CONNECTION_STRING"]
    password_word = "password" in low or "pwd" in low or "pass=" in low
    if "://" in text:
        has_at = "@" in text
        for i in _find_all(text, "://"):
            j = i
            while j > 0 and i - j < 32 and text[j - 1] in _SCHEME_CHARS:
                j -= 1
            if j == i:
                continue
            if has_at:
                m = pt.URL_WITH_CREDS.match(text, j)
                if m and not _placeholder_credential(m.group(3)):
                    out.append((j, _strip_trailing(text, j, m.end()), "CONNECTION_STRING", 0.95, prio))
                    continue
            if password_word:
                m = pt.URL_PASSWORD_QUERY.match(text, j)
                q = pt.QUERY_PASSWORD.search(m.group()) if m else None
                if m and q and not _placeholder_credential(q.group(1)):
                    e = _strip_trailing(text, j, m.end(), ".,:!?)]}'\"`>")
                    out.append((j, e, "CONNECTION_STRING", 0.95, prio))
    if not password_word and "accountkey" not in low and "sharedaccess" not in low:
        return
    if "jdbc:" in low:
        for j in _find_all(low, "jdbc:"):
            m = pt.URL_PASSWORD_QUERY.match(text, j)
            q = pt.QUERY_PASSWORD.search(m.group()) if m else None
            if m and q and not _placeholder_credential(q.group(1)):
                out.append((j, _strip_trailing(text, j, m.end(), ".,:!?)]}'\"`>"), "CONNECTION_STRING", 0.95, prio))
    if "=" not in text:
        return
    seen_lines: set[int] = set()
    for key in ("password=", "pwd=", "accountkey=", "sharedaccesskey=", "sharedaccesssignature="):
        for p in _find_all(low, key):
            ls, le = _line_of(text, p)
            if ls in seen_lines:
                continue
            seen_lines.add(ls)
            if ";" in text[ls:le]:
                for m in pt.KV_CONN.finditer(text, ls, le):
                    v = m.group()
                    sec = pt.KV_CONN_SECRET.search(v)
                    if v.count("=") >= 2 and sec and not _placeholder_credential(sec.group(1)):
                        e = _strip_trailing(text, m.start(), m.end(), ".,")
                        out.append((m.start(), e, "CONNECTION_STRING", 0.9, prio))
            if key == "password=" and ("host=" in low or "dbname=" in low):
                for m in pt.LIBPQ_CONN.finditer(text, ls, le):
                    pw = _LIBPQ_PASSWORD.search(m.group())
                    if pw and not _placeholder_credential(pw.group(1).strip("'\",;)")):
                        out.append((m.start(), m.end(), "CONNECTION_STRING", 0.9, prio))


_LIBPQ_PASSWORD = re.compile(r"password=(\S+)")

# --- API keys and generic secrets ----------------------------------------------------------


def _provider_keys(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    """Tokens with a provider's fixed shape (pii/secret_rules.py). Masked whatever their entropy or
    wording ("EXAMPLE", "test"): only a body of one repeated character (`sk-xxxx…`) is let through."""
    text, n = doc.text, doc.n
    prio = _PRIO["API_KEY"]
    hits = [(m.start(1), m.group(1)) for m in sr.PREFIX_AT_WORD.finditer(text)]
    if (first := sr.PREFIX_WORD.match(text)) is not None:
        hits.insert(0, (0, first.group()))
    hits += [(m.start(), m.group()) for m in sr.PREFIX_INNER.finditer(text)]
    done = -1
    for at, lit in sorted(hits):
        if at < done:
            continue
        for family, offset, pat in sr.BY_LITERAL[lit]:
            s = at - offset
            m = pat.match(text, s) if s >= 0 else None
            if m is None:
                continue
            e = m.end()
            if s and (text[s - 1].isalnum() or text[s - 1] in "_-"):
                continue  # inside a longer identifier: task-…, mask_…
            if e < n and (text[e].isalnum() or text[e] == "_"):
                continue
            if _degenerate(m.group()[offset + len(lit) :] or m.group()):
                continue
            body = m.group()
            if family in sr.WEAK_FAMILIES and (not _has_digit(body) or _identifier(body)):
                continue
            if family in sr.URL_FAMILIES:
                s = _url_start(text, s)
            out.append((s, e, sr.TYPE_OF_FAMILY.get(family, "API_KEY"), 0.95, prio))
            done = e
            break
    _scanned_tokens(doc, out)


def _degenerate(body: str) -> bool:
    """`XXXXXXXX`, `x-x-x-x`: a placeholder, the only wording a fixed-shape token is excused for."""
    return len(set(body)) <= 2


def _url_start(text: str, s: int) -> int:
    """Back from a webhook's host over its subdomain and `https://`."""
    while s > 0 and (text[s - 1].isalnum() or text[s - 1] in ".-"):
        s -= 1
    for scheme in ("https://", "http://"):
        if text.startswith(scheme, s - len(scheme)):
            return s - len(scheme)
    return s


def _scanned_tokens(doc: _Doc, out: list[_Cand]) -> None:
    """Fixed shapes without a literal prefix, each behind a substring gate."""
    text, low = doc.text, doc.low
    prio = _PRIO["API_KEY"]
    if ":A" in text:  # Telegram bot token: back from ":A" over the bot id
        for i in _find_all(text, ":A"):
            s = i
            while s > 0 and i - s <= 16 and text[s - 1].isdigit():
                s -= 1
            m = sr.TELEGRAM.match(text, s) if i - s >= 5 else None
            if m:
                out.append((s, m.end(), "API_KEY", 0.95, prio))
    if "facebook" in low:
        for m in sr.FACEBOOK_APP_TOKEN.finditer(text):
            out.append((m.start(), m.end(), "API_KEY", 0.9, prio))
    if ".acc" in text:
        for m in sr.AUTHRESS.finditer(text):
            out.append((m.start(), m.end(), "API_KEY", 0.95, prio))
    if "curl" in low:
        for m in sr.CURL_USER.finditer(text):
            cred = m.group(2)
            if not _placeholder_credential(cred.split(":", 1)[1]) and not pt.PLACEHOLDER_HINT.search(cred):
                out.append((m.start(2), m.end(2), "API_KEY", 0.85, prio))
    if "live_" in text or "test_" in text:
        for m in sr.LOB.finditer(text):
            if not (m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_")):
                out.append((m.start(), m.end(), "API_KEY", 0.9, prio))


def _is_cursor(v: str) -> bool:
    """base64 of a JSON object that is not a JWT: a pagination cursor (`eyJvZmZzZXQiOjE5MTR9`)."""
    return v.startswith("eyJ") and v.count(".") != 2


# Dotted identifier chains are code (self._creds, base64.b64decode, ed25519.Ed25519PrivateKey).
_CODE_EXPR = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
# Stripe object ids are references, not credentials; its secrets are sk_/rk_/whsec_ (provider rules).
_STRIPE_OBJECT = re.compile(
    r"(?:ch|cus|pi|pm|in|ii|evt|sub|si|price|prod|txn|tok|src|card|ba|acct|po|re|seti|cs|py|tr|dp|du|file|il|or"
    r"|plink|txi|cbtxn|cn|dispute|ic|ipi|iauth|ich|pyr|payatt|bpc|prv|quote|sched|sku|tu|ch)_[A-Za-z0-9]{8,}"
)
_ISO_TS = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?")


_IDENT_SEGMENTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _identifier(v: str) -> bool:
    """A name made of words (keep_old_secret_for_24_hours, PKCS12PrivateKeyTypes): joined by `_`/`-`
    or camelCase humps, every segment a pronounceable word of 3+ letters or a short number. Random
    secrets split into scraps: digits scattered through them, runs without a vowel."""
    if not v[:1].isalpha() or not v.replace("_", "").replace("-", "").isalnum():
        return False
    if "_" not in v and "-" not in v and not _HUMP.search(v):
        return False  # one lowercase run with digits (esibi6u5seibev) is not a name
    if "_" not in v and not any(c.islower() for c in v):
        return False  # API-ERXHAAM18AOEOZ: capitals joined by dashes are a key, MAX_RETRIES a name
    segs = _IDENT_SEGMENTS.findall(v)
    if len(segs) < 2 or sum(g.isdigit() for g in segs) > 2:
        return False  # digits scattered through it: random, not a name (abb9z4fthzyb9acu)
    words = sum(1 for g in segs if (g.isdigit() and len(g) <= 4) or (g.isalpha() and len(g) >= 3 and _VOWELS & set(g)))
    return words >= len(segs) - 1 and words >= 2  # one scrap allowed: password_reset_v2


_HUMP = re.compile(r"[a-z0-9][A-Z]")
_VOWELS = frozenset("aeiouyAEIOUY")


def _secret_value_ok(v: str, password: bool) -> bool:
    if pt.UUID.fullmatch(v) or pt.ULID.fullmatch(v) or _is_cursor(v) or "://" in v or _ISO_TS.fullmatch(v):
        return False
    if _STRIPE_OBJECT.fullmatch(v):
        return False
    if _placeholder_credential(v) or pt.PLACEHOLDER_HINT.search(v):
        return False
    if pt.WORDY.fullmatch(v) or pt.ENV_REFERENCE.fullmatch(v) or v.isdigit() or _identifier(v):
        return False
    if "/" in v and pt.PATHLIKE.fullmatch(v) and not _mixed_case_digits(v.replace("/", "")):
        return False
    if v.startswith(("-----", "data:")) or _CODE_EXPR.fullmatch(v):
        return False
    if "@" in v and "." in v.rsplit("@", 1)[-1]:
        return False  # an email address is the email detector's
    classes = sum((any(c.islower() for c in v), any(c.isupper() for c in v), any(c.isdigit() for c in v)))
    classes += any(not c.isalnum() for c in v)
    if password:
        return len(v) >= 8 and classes >= 2 and ck.shannon_entropy(v) >= 2.5
    if len(v) < 16 or not any(c.isdigit() for c in v) or not any(c.isalpha() for c in v):
        return False
    return ck.shannon_entropy(v) >= 3.0


def _names_provider(name: str) -> bool:
    return sr.PROVIDER_WORD.search(name) is not None


_SECTION = re.compile(r"\[([\w.\- \"']{1,64})\][ \t]*\r?\n")


def _section_name(text: str, pos: int) -> str:
    """The INI/TOML section header right above a key (`[heroku]`), lower-cased, or ""."""
    ls = text.rfind("\n", 0, pos) + 1
    if ls == 0:
        return ""
    top = text.rfind("\n[", max(0, ls - 512), ls)
    at = top + 1 if top >= 0 else (0 if text.startswith("[") and ls <= 512 else -1)
    if at < 0:
        return ""
    m = _SECTION.match(text, at)
    return m.group(1).lower() if m else ""


_HEX_PAIR = re.compile(r"[a-fA-F0-9]{8}:[a-fA-F0-9]{8}")  # Sidekiq Enterprise credentials


def _provider_value_ok(v: str) -> bool:
    """A value next to a provider's name: its ids and keys come in shapes a generic entropy filter
    refuses (UUIDs, 16-18 digit ids, 14-character keys). Placeholders and code still do not count."""
    if _placeholder_credential(v) or pt.PLACEHOLDER_HINT.search(v) or pt.ENV_REFERENCE.fullmatch(v):
        return False
    if pt.UUID.fullmatch(v) or _HEX_PAIR.fullmatch(v):
        return True
    if v.isdigit():
        return 14 <= len(v) <= 20
    if len(v) < 14 or ":" in v or "://" in v or "@" in v or _ISO_TS.fullmatch(v):
        return False
    if pt.WORDY.fullmatch(v) or _identifier(v) or _CODE_EXPR.fullmatch(v) or pt.PATHLIKE.fullmatch(v):
        return False
    if not _has_digit(v) and not (any(c.isupper() for c in v) and any(c.islower() for c in v)):
        return False
    return ck.shannon_entropy(v) >= 2.8


# Compounds ending in "key" that name a secret; other words ending in it (monkey, hockey) do not.
_KEY_COMPOUNDS = frozenset(
    [
        "key",
        "keys",
        "apikey",
        "accesskey",
        "privatekey",
        "secretkey",
        "signingkey",
        "clientkey",
        "masterkey",
        "licensekey",
        "encryptionkey",
        "accountkey",
        "sharedkey",
        "appkey",
        "servicekey",
        "adminkey",
        "sessionkey",
        "hmackey",
        "authkey",
        "webhookkey",
    ]
)


def _secret_name_ok(words: list[str]) -> bool:
    for w in words:
        if w in _KEY_COMPOUNDS or w.endswith(("token", "tokens", "secret", "secrets", "credential", "credentials")):
            return True
        if w.startswith(("secret", "passw", "credential", "bearer")) or w in ("pwd", "pw", "dbpwd"):
            return True
        if w.startswith("auth") and not w.startswith("authent") and w not in ("author", "authors", "authored"):
            return True
    return False


def _basic_credentials(v: str) -> bool:
    """HTTP Basic: base64 of user:password."""
    try:
        raw = base64.b64decode(v + "=" * (-len(v) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in raw and len(raw) >= 3


def _generic_secrets(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    """Values assigned to a credential's name, in any syntax (pt.SECRET_VALUE). A name with a
    provider's word in it (`telegram_bot_token`, `discord_client_id`, `BUNDLE_GEMS__CONTRIBSYS__COM`)
    takes that provider's value shapes too: UUIDs, long digit ids, short keys."""
    text = doc.text
    last_name_end = -1
    for p in doc.hits("secret"):
        if p < last_name_end:
            continue
        tail = pt.SECRET_NAME_TAIL.match(text, p)
        name_end = tail.end() if tail else p
        last_name_end = name_end
        val = pt.SECRET_VALUE.match(text, name_end)
        if val is None:
            continue
        head = p  # cheapest checks first: most keyword hits have no value after them
        while head > 0 and p - head < 40 and (text[head - 1].isalnum() or text[head - 1] in "_.-$"):
            head -= 1
        words = _norm(text[head:name_end]).split()
        # The provider may also be named by the section the key sits in ([heroku] token = …) or
        # just before the key in prose ("the discord token we use: …").
        context = _section_name(text, head) + doc.low[max(0, head - 24) : head]
        provider = _names_provider("".join(words) + " " + context) and not pt.PROVIDER_NAME_DENY.search(" ".join(words))
        if not provider:
            if not _secret_name_ok(words):
                continue
            if pt.SECRET_NAME_DENY.search(" ".join(words)) and not any(
                w.startswith(("secret", "passw")) for w in words
            ):
                continue
        vs, vend = val.start(2), val.end(2)
        if vend < len(text) and text[vend] in "([":
            continue  # a call or subscript: code, not a literal
        ve = _strip_trailing(text, vs, vend)
        v = text[vs:ve]
        password = any(w.startswith(("passw", "pwd", "pw")) for w in words)
        if (
            (val.group(1) and _basic_credentials(v))
            or _secret_value_ok(v, password)
            or (provider and _provider_value_ok(v))
        ):
            out.append((vs, ve, "API_KEY", 0.8, _GENERIC_PRIO))
            last_name_end = ve
    for p in doc.hits("rate"):
        # The sentence around the phrase: back to the previous sentence end, on to the next one.
        lo = max(0, p - 240)
        ends = [m.end() for m in pt.SENTENCE_END.finditer(text, lo, p)]
        s0 = ends[-1] if ends else lo
        nxt = pt.SENTENCE_END.search(text, p, min(len(text), p + 160))
        s1 = nxt.start() if nxt else min(len(text), p + 160)
        for m in pt.SENTENCE_TOKEN.finditer(text, s0, s1):
            v = m.group()
            if _secret_value_ok(v, False) and not _STRIPE_OBJECT.fullmatch(v):
                out.append((m.start(), m.end(), "API_KEY", 0.7, _GENERIC_PRIO))


# --- contact data --------------------------------------------------------------------------

_SSH_TARGET = re.compile(r"\b(?:ssh|scp|sftp|rsync|mosh)\b[^\n;|&]*$")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")


def _emails(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    text = doc.text
    prio = _PRIO["EMAIL"]
    for i in _find_all(text, "@"):
        s = i
        while (
            s > 0 and i - s < 64 and (text[s - 1] in _LOCAL_CHARS or (text[s - 1].isalnum() and ord(text[s - 1]) > 127))
        ):
            s -= 1
        while s < i and text[s] in ".-+%":
            s += 1
        local = text[s:i]
        if not local or local == "git" or not any(c.isalnum() for c in local):
            continue  # git@github.com:org/repo is an SSH remote, not a mailbox
        if text[max(0, s - 3) : s] == "://":
            continue  # ftp://user@host: a URL's user name
        if _SSH_TARGET.search(text, max(0, s - 80), s):
            continue  # ssh deploy@bastion.internal, scp f user@host:/tmp
        dom = pt.EMAIL_DOMAIN_HEAD.match(text, i + 1)
        if dom and dom.group(1).lower() not in pt.NOT_TLDS:
            out.append((s, dom.end(), "EMAIL", 0.95, prio))
    done = -1
    for i in _find_all(text, "%40"):  # URL-encoded: name%2Btag%40example.com
        if i < done:
            continue
        for m in pt.EMAIL_URLENC.finditer(text, max(0, i - 200), min(len(text), i + 260)):
            if m.start() <= i < m.end() and m.group().rsplit(".", 1)[-1].lower() not in pt.NOT_TLDS:
                out.append((m.start(), m.end(), "EMAIL", 0.9, prio))
                done = m.end()


_LOCAL_REGIONS = ("GB", "US", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "IE", "PT", "BR", "MX", "IN", "AU")


def _intl_phone_ok(cand: str) -> bool:
    if _pn is None:
        return 10 <= len(_NON_DIGIT.sub("", cand)) <= 15
    try:
        n = _pn.parse(cand, None)
    except _pn.NumberParseException:
        return False
    # Possible (a length the country uses) rather than valid (an assigned range): a plausible
    # invented number is still a phone number as far as masking goes.
    # "Local only" lengths do not count: +1980-02-29 is a date, not a 7-digit US number.
    return _pn.is_possible_number_with_reason(n) == _pn.ValidationResult.IS_POSSIBLE


def _nanp_ok(cand: str) -> bool:
    """North American shape: area code and exchange both start 2-9 (NANP plan rules). Stricter
    checks (assigned area codes) would drop invented numbers, which are still phone numbers."""
    digits = _NON_DIGIT.sub("", cand.split("x")[0].split("ext")[0])
    if len(digits) == 11:
        if digits[0] != "1":
            return False
        digits = digits[1:]
    return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789" and len(set(digits)) > 2


@functools.lru_cache(maxsize=4096)  # conversations resend earlier turns: the same numbers recur
def _local_phone_ok(cand: str) -> bool:
    """A national-format number valid in one of the regions prompts come from most."""
    if _pn is None:
        return 10 <= len(_NON_DIGIT.sub("", cand)) <= 11
    for region in _LOCAL_REGIONS:
        try:
            if _pn.is_valid_number(_pn.parse(cand, region)):
                return True
        except _pn.NumberParseException:
            continue
    return False


def _phones(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    """International (+CC) numbers; national formats come from _numbers."""
    text = doc.text
    prio = _PRIO["PHONE"]
    if "+" in text:
        for m in pt.PHONE_INTL.finditer(text):
            s = m.start()
            if s and (text[s - 1].isalnum() or text[s - 1] in "+-_./=%"):
                continue
            cand = m.group().rstrip(" .-(")
            if cand.count("(") != cand.count(")"):
                cand = cand.rstrip(")")
            # Drop trailing groups until the number is possible ("+1 602 494 9103 2 times").
            while True:
                nd = len(_NON_DIGIT.sub("", cand))
                if nd < 8:
                    break
                if nd <= 15 and _intl_phone_ok(cand):
                    out.append((s, s + len(cand), "PHONE", 0.9, prio))
                    break
                cut = max(cand.rfind(" "), cand.rfind("-"), cand.rfind("."))
                if cut <= 2:
                    break
                cand = cand[:cut].rstrip(" .-(")


def _ipv4_ok(doc: _Doc, m: re.Match[str]) -> bool:
    text, s, e = doc.text, m.start(), m.end()
    if pt.VERSION_LEFT.search(text, max(0, s - 24), s):
        return False
    if text[e : e + 1] == "/" and text[e + 1 : e + 2].isdigit():
        return False  # 10.0.0.0/16: a network range, not a host
    ip = ipaddress.IPv4Address(m.group())
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return False
    octets = [int(x) for x in m.group().split(".")]
    if octets[0] in (0, 255):
        return False  # "this network" or a netmask
    if octets[0] < 10 and all(o < 100 for o in octets):
        # Small dotted quads are mostly versions (2.14.3.1); keep them when labelled as addresses.
        left, right, _ = doc.label(s, m.end())
        return bool(pt.IP_LABEL.search(left) or pt.IP_LABEL.search(right))
    return True


def _ipv6(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    text = doc.text
    if ":" not in text:
        return
    done = -1
    for h in pt.IPV6_HINT.finditer(text):
        if h.start() < done:
            continue
        s = h.start()
        while s > 0 and h.start() - s < 40 and text[s - 1] in _HEX_COLON:
            s -= 1
        m = pt.IPV6.match(text, s)
        if m is None:
            done = h.end() - 1
            continue
        done = m.end()
        addr = m.group().split("%", 1)[0]
        try:
            ip6 = ipaddress.IPv6Address(addr)
        except ValueError:
            continue
        if ip6.is_loopback or ip6.is_unspecified or ip6.is_multicast:
            continue
        groups = [g for g in addr.split(":") if g]
        if len(groups) < 2 or max(len(g) for g in groups) < 3:
            continue  # "1::2" slices, "a::b" scopes
        out.append((m.start(), m.end(), "IP_ADDRESS", 0.9, _PRIO["IP_ADDRESS"]))


_HEX_COLON = frozenset("0123456789abcdefABCDEF:.")

# --- numbers -------------------------------------------------------------------------------


_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")


class _Regions:
    """Membership test for sorted, disjoint (start, end) ranges."""

    __slots__ = ("ends", "starts")

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]

    def __contains__(self, pos: int) -> bool:
        i = bisect.bisect_right(self.starts, pos) - 1
        return i >= 0 and pos < self.ends[i]


def _numbers(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    """Everything made of digit groups, from one walk over number-like runs: cards, IPv4, NANP and
    national phone formats, SSNs, DNI/NIE, and, inside labelled regions, local phone numbers and
    digit-only national ids (SSN, SIN, BSN, Aadhaar)."""
    text, n = doc.text, doc.n
    cards, ids, phone, ip = (t in want for t in ("CREDIT_CARD", "NATIONAL_ID", "PHONE", "IP_ADDRESS"))
    phone_gate = doc.hits("phone") if phone else []
    id_gate = doc.hits("id") if ids else []
    phone_regions = _Regions(doc.regions(phone_gate))
    id_regions = _Regions(doc.regions(id_gate))
    for run in pt.NUM_RUN.finditer(text):
        rs, re_ = run.start(), run.end()
        r = run.group()
        nd = len(r) - r.count(" ") - r.count("-") - r.count(".") - r.count("(") - r.count(")") - r.count("/")
        ws, we = max(0, rs - 2), min(n, re_ + 2)
        if ip and r.count(".") >= 3:
            for m in pt.IPV4.finditer(text, ws, we):
                if _ipv4_ok(doc, m):
                    out.append((m.start(), m.end(), "IP_ADDRESS", 0.9, _PRIO["IP_ADDRESS"]))
        if cards and nd >= 13:
            for m in pt.CARD.finditer(text, ws, we):
                digits = _NON_DIGIT.sub("", m.group())
                if (
                    ck.card_brand_ok(digits)
                    and ck.luhn_ok(digits)
                    and not _negatively_labelled(doc, m.start(), m.end(), pt.CARD_LABEL)
                ):
                    out.append((m.start(), m.end(), "CREDIT_CARD", 0.95, _PRIO["CREDIT_CARD"]))
        sep = nd < len(r)
        if phone and nd >= 7:
            in_region = rs in phone_regions
            if in_region or (nd >= 10 and sep) or (9 <= nd <= 12 and (r[0] == "0" or ")" in r)):
                _run_phones(doc, r, nd, rs, re_, phone_gate, in_region, out)
        if ids and nd >= 7:
            in_region = rs in id_regions
            if in_region or (nd >= 9 and "-" in r) or (nd <= 8 and not sep):
                _run_ids(doc, r, nd, rs, re_, id_gate, in_region, out)


def _run_phones(
    doc: _Doc, r: str, nd: int, rs: int, re_: int, gate: list[int], labelled_region: bool, out: list[_Cand]
) -> None:
    text, n = doc.text, doc.n
    ws, we = max(0, rs - 2), min(n, re_ + 2)  # room for "(" before and boundary checks after
    prio = _PRIO["PHONE"]
    if nd >= 10 and nd < len(r):  # NANP shapes need separators
        for m in pt.PHONE_NANP.finditer(text, ws, min(n, re_ + 12)):  # room for "x123" extensions
            s, e = m.start(), m.end()
            if (s and text[s - 1] in "+-./#:_") or (e < n and text[e] in "-/_"):
                continue
            if _nanp_ok(m.group()) and not _negatively_labelled(doc, s, e, pt.PHONE_LABEL):
                out.append((s, e, "PHONE", 0.8, prio))
    if 9 <= nd <= 12 and (r[0] == "0" or ")" in r):
        for m in pt.PHONE_STRONG.finditer(text, ws, we):
            s, e = m.start(), m.end()
            if _local_phone_ok(m.group()) and not _negatively_labelled(doc, s, e, pt.PHONE_LABEL):
                left, _, _ = doc.label(s, e)
                if pt.PHONE_LABEL.search(left) or not (pt.ID_LABEL.search(left) or pt.CARD_LABEL.search(left)):
                    out.append((s, e, "PHONE", 0.7, prio))
    if labelled_region:
        for m in pt.PHONE_LOCAL.finditer(text, ws, we):
            s, e = m.start(), m.end()
            if (s and text[s - 1] in "+-./#:_") or (e < n and text[e] in "-/:_") or _DATE_LIKE.fullmatch(m.group()):
                continue
            # The label is the evidence here; libphonenumber's ranges would only reject invented numbers.
            if 7 <= len(_NON_DIGIT.sub("", m.group())) <= 13 and _labelled(doc, s, e, pt.PHONE_LABEL, gate):
                out.append((s, e, "PHONE", 0.75, prio))


def _run_ids(
    doc: _Doc, r: str, nd: int, rs: int, re_: int, gate: list[int], labelled_region: bool, out: list[_Cand]
) -> None:
    text, n = doc.text, doc.n
    ws, we = max(0, rs - 2), min(n, re_ + 2)
    prio = _PRIO["NATIONAL_ID"]
    if nd >= 9 and "-" in r:
        for m in pt.SSN_DASHED.finditer(text, ws, we):
            s, e = m.start(), m.end()
            if ck.ssn_ok(m.group().replace("-", "")) and not _negatively_labelled(doc, s, e, pt.ID_LABEL):
                out.append((s, e, "NATIONAL_ID", 0.85, prio))
    if nd <= 8 and r.isdigit() and re_ < n and text[re_ : re_ + 2].lstrip("-")[:1].isalpha():  # 12345678Z
        for m in pt.DNI.finditer(text, ws, min(n, re_ + 3)):
            if ck.dni_ok(m.group()):
                out.append((m.start(), m.end(), "NATIONAL_ID", 0.85, prio))
    if labelled_region and nd >= 8:
        for m in pt.ID_DIGITS.finditer(text, ws, we):
            s, e = m.start(), m.end()
            if _labelled(doc, s, e, pt.ID_LABEL, gate) and _id_value_ok(m, " ".join(doc.label(s, e)[:2])):
                out.append((s, e, "NATIONAL_ID", 0.8, prio))


def _letter_codes(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    """IBANs and UK NINOs, both two capitals then digits, from one scan for that opening."""
    text, n = doc.text, doc.n
    iban, nino = "IBAN" in want, "NATIONAL_ID" in want
    for h in pt.LETTER_CODE.finditer(text):
        s = h.start()
        if s and text[s - 1].isalnum():
            continue
        if iban:
            m = pt.IBAN.match(text, s)
            want_len = ck.IBAN_LENGTHS.get(text[s : s + 2]) if m else None
            if m and want_len:
                # Walk to exactly the country's length; a longer match swallowed the next word ("… 37 BIC").
                k, e = 0, s
                while e < m.end() and k < want_len:
                    if text[e] != " ":
                        k += 1
                    e += 1
                if k == want_len and not (e < n and text[e].isalnum()) and ck.iban_ok(text[s:e].replace(" ", "")):
                    out.append((s, e, "IBAN", 0.95, _PRIO["IBAN"]))
                    continue
        if nino:
            m = pt.NINO.match(text, s)
            if m and ck.nino_ok(m.group()):
                out.append((s, m.end(), "NATIONAL_ID", 0.85, _PRIO["NATIONAL_ID"]))


_BSN_LABEL = re.compile(r"\b(?:bsn|burgerservicenummer|sofi ?\w*|citizen service)\b")
_SIN_LABEL = re.compile(r"\b(?:sin|social insurance)\b")
_SSN_LABEL = re.compile(r"\b(?:ssn|ss ?n[or]|social security|soc ?sec)\b")


def _id_value_ok(m: re.Match[str], label: str) -> bool:
    """The checksum the value's layout implies: 3-2-4 SSN, 3-3-3 SIN, 4-4-4 Aadhaar; a plain run
    by its length and, for 9 digits, by what the label names (a BSN label wants the 11-test)."""
    digits = _NON_DIGIT.sub("", m.group())
    if m.group(1):
        return ck.ssn_ok(digits)
    if m.group(2):
        return ck.sin_ok(digits)
    if m.group(3) or len(digits) == 12:
        return ck.aadhaar_ok(digits)
    if len(digits) == 8:
        return ck.bsn_ok(digits)
    if len(digits) != 9:
        return False
    if _BSN_LABEL.search(label):
        return ck.bsn_ok(digits)
    if _SIN_LABEL.search(label):
        return ck.sin_ok(digits)
    if _SSN_LABEL.search(label):
        return ck.ssn_ok(digits)
    return ck.ssn_ok(digits) or ck.sin_ok(digits) or ck.bsn_ok(digits)


_MONTH_PREFIX = {
    "jan": 1, "ene": 1, "feb": 2, "fév": 2, "fev": 2, "mar": 3, "mär": 3, "apr": 4, "avr": 4, "abr": 4,
    "may": 5, "mai": 5, "jun": 6, "jui": 7, "jul": 7, "aug": 8, "aoû": 8, "aou": 8, "ago": 8, "sep": 9,
    "set": 9, "oct": 10, "okt": 10, "nov": 11, "dec": 12, "dez": 12, "déc": 12, "dic": 12,
}  # fmt: skip


def _month_number(word: str) -> int:
    w = word.lower()
    if w.startswith(("juin", "junio")):
        return 6
    if w.startswith("juil"):
        return 7
    return _MONTH_PREFIX.get(w[:3], 0)


def _date_parts(m: re.Match[str]) -> list[tuple[int, int, int]]:
    g = m.groupdict()
    if g["iy"]:
        return [(int(g["iy"]), int(g["im"]), int(g["id"]))]
    if g["ny"]:
        y = int(g["ny"])
        if len(g["ny"]) == 2:
            y += 1900 if y > 30 else 2000
        a, b = int(g["nd"]), int(g["nm"])
        return [(y, b, a), (y, a, b)]  # day-first or month-first, whichever is a real date
    word, day, year = (g["tm"], g["td"], g["ty"]) if g["tm"] else (g["mm"], g["md"], g["my"])
    month = _month_number(word)
    return [(int(year), month, int(day))] if month else []


def _dates_of_birth(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    gate = doc.hits("dob")
    if not gate:
        return
    text = doc.text
    for rs, re_ in doc.regions(gate):
        for m in pt.DATE.finditer(text, rs, re_):
            if not any(ck.plausible_birth_date(*p) for p in _date_parts(m)):
                continue
            if _labelled(doc, m.start(), m.end(), pt.DOB_LABEL, gate, filler=pt.DOB_FILLER):
                out.append((m.start(), m.end(), "DATE_OF_BIRTH", 0.8, _PRIO["DATE_OF_BIRTH"]))


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
    (frozenset({"API_KEY"}), True, _generic_secrets),
    (frozenset({"EMAIL"}), False, _emails),
    (frozenset({"PHONE"}), True, _phones),
    (frozenset({"IP_ADDRESS"}), False, _ipv6),
    (frozenset({"CREDIT_CARD", "NATIONAL_ID", "PHONE", "IP_ADDRESS"}), True, _numbers),
    (frozenset({"IBAN", "NATIONAL_ID"}), True, _letter_codes),
    (frozenset({"DATE_OF_BIRTH"}), True, _dates_of_birth),
)


def _resolve(cands: list[_Cand]) -> list[Span]:
    """Longest span first; among equals the stronger detector; a span overlapping an accepted one
    is dropped whole (a partial span would leave the rest of a value in clear)."""
    cands.sort(key=lambda c: (c[0] - c[1], c[4], c[0]))
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
    cands = [c for c in cands if c[2] in want and c[3] >= MIN_CONFIDENCE[c[2]] and c[1] > c[0]]
    return _resolve(cands)
