"""Pattern tier of PII and secret detection: pure, synchronous, no I/O.

`detect(text)` returns non-overlapping typed spans. Each detector finds candidates with a regex
compiled once (pii/patterns.py), then keeps only validated ones: check digits (Luhn, mod-97,
Verhoeff, 11-test, DNI letter), a label that says what an ambiguous value is (pii/context.py),
JSON structure (JWT headers) or entropy (generic secrets). Overlaps are resolved once, at the end:
the longest span wins, ties go to the more specific detector.

Clean text is fast because every pass is gated by a substring test (`'@' in text`, a digit, a
provider prefix, a label word) before any regex runs over the text.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pii import checksums as ck
from pii import context as cx
from pii import patterns as pt

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
_SEPS = re.compile(r"[_\-./:#()\[\]\"'`*|]+")
_DIGITS = "0123456789"


def _norm(label: str) -> str:
    """`dateOfBirth` / `birth_date` / `D.O.B.` -> words: camelCase split, separators as spaces, lower."""
    return _SEPS.sub(" ", _CAMEL.sub(" ", label)).lower()


def _has_digit(text: str) -> bool:
    return any(d in text for d in _DIGITS)


def _near(positions: list[int], start: int, end: int) -> bool:
    """Is a label word close enough to be the value's label in prose or a key?"""
    i = bisect.bisect_left(positions, start - cx.LEFT_WINDOW - 8)
    return i < len(positions) and positions[i] <= end + cx.RIGHT_WINDOW


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
        self._gates: dict[tuple[str, ...], list[int]] = {}

    @property
    def low(self) -> str:
        if self._low is None:
            self._low = self.text.lower()
        return self._low

    def gate(self, words: tuple[str, ...]) -> list[int]:
        """Sorted positions of label words. Short words count only at a word start (or a camelCase
        hump) so `using` is no `sin` and `graph` no `ph`; long ones anywhere (`dateofbirth`)."""
        got = self._gates.get(words)
        if got is not None:
            return got
        low, text = self.low, self.text
        out: list[int] = []
        for w in words:
            i = low.find(w)
            short = len(w) <= 4
            while i >= 0:
                if not short or i == 0 or not text[i - 1].isalpha() or text[i].isupper():
                    out.append(i)
                i = low.find(w, i + 1)
        out.sort()
        self._gates[words] = out
        return out

    def in_table_line(self, pos: int) -> bool:
        t = self.text
        ls = t.rfind("\n", 0, pos) + 1
        le = t.find("\n", pos)
        line = t[ls : le if le >= 0 else self.n]
        return "|" in line or "\t" in line or "," in line or "(" in line

    def label(self, start: int, end: int) -> tuple[str, bool]:
        lab, structured = cx.label_of(self.text, start, end)
        return _norm(lab), structured

    def _block_end(self, le: int, sep: str) -> int:
        """End of the run of lines after `le` that all contain `sep` (a table's body)."""
        t, n = self.text, self.n
        stop = min(n, le + _TABLE_MAX)
        pos = le
        while pos < stop:
            nxt = t.find("\n", pos + 1)
            nxt = n if nxt < 0 else nxt
            if sep not in t[pos + 1 : nxt]:
                break
            pos = nxt
        return pos

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
            line = t[ls:le]
            for sep in ("|", "\t", ","):
                if sep in line:
                    end = self._block_end(le, sep)
                    if end > le:
                        spans.append((le, end))
                        last_table_line = ls
                    break
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
        for s, e in merged:
            # Widen to whitespace so no token is cut in half at a region's edge.
            while s > 0 and not t[s - 1].isspace() and merged[0][0] - s < 64:
                s -= 1
            stop = min(n, e + 64)
            while e < stop and not t[e].isspace():
                e += 1
            out.append((s, e))
        return out


# --- structural secrets --------------------------------------------------------------------


def _private_keys(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    if "-----BEGIN" not in text:
        return
    for m in pt.PEM_BEGIN.finditer(text):
        end_line = f"-----END {m.group(1)}PRIVATE KEY{m.group(2) or ''}-----"
        j = text.find(end_line, m.end(), m.end() + pt.PEM_MAX)
        if j >= 0:
            end = j + len(end_line)
        else:  # truncated paste: the key runs as far as its base64 body does
            body = pt.PEM_BODY.match(text, m.end(), m.end() + pt.PEM_MAX)
            end = body.end() if body else m.end()
            while end > m.end() and (text[end - 1].isspace() or text[end - 2 : end] in ("\\n", "\\r")):
                end -= 2 if text[end - 2 : end] in ("\\n", "\\r") else 1
        out.append((m.start(), end, "PRIVATE_KEY", 0.99, _PRIO["PRIVATE_KEY"]))


def _b64url_json(part: str) -> object:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError):
        return None


def _jwts(doc: _Doc, out: list[_Cand]) -> None:
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


def _aws_access_keys(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    if "A" not in text:
        return
    for m in pt.AWS_ACCESS_KEY.finditer(text):
        s = m.start()
        if s and text[s - 1].isalnum():
            continue
        if m.group().endswith("EXAMPLE"):  # AWS documentation's sample key
            continue
        out.append((s, m.end(), "AWS_ACCESS_KEY", 0.95, _PRIO["AWS_ACCESS_KEY"]))


def _mixed_case_digits(v: str) -> bool:
    return any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v)


def _aws_secret_keys(doc: _Doc, out: list[_Cand]) -> None:
    low = doc.low
    if "secret" not in low and "aws" not in low:
        return
    gate = _positions(low, ("secret", "aws"))
    text = doc.text
    for m in pt.AWS_SECRET_VALUE.finditer(text):
        v = m.group()
        if not _mixed_case_digits(v) or pt.PLACEHOLDER_HINT.search(v):
            continue
        if _labelled(doc, m.start(), m.end(), pt.AWS_SECRET_LABEL, gate, nearest=False):
            out.append((m.start(), m.end(), "AWS_SECRET_KEY", 0.9, _PRIO["AWS_SECRET_KEY"]))


# --- connection strings --------------------------------------------------------------------

_PLACEHOLDER_PASSWORDS = frozenset(
    {"password", "pass", "passwd", "pwd", "secret", "changeme", "pw", "xxx", "xxxx", "redacted", "mask", "masked"}
)


def _placeholder_credential(v: str) -> bool:
    v = v.strip()
    if not v or v.lower() in _PLACEHOLDER_PASSWORDS:
        return True
    return bool(re.search(r"\$\{|\{\{|<|>|%\(|\*{3,}|x{4,}|X{4,}|•|\.\.\.", v)) or v.startswith("$")


def _strip_trailing(text: str, s: int, e: int, chars: str = _TRAIL_PUNCT) -> int:
    while e > s and text[e - 1] in chars:
        e -= 1
    return e


def _connection_strings(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    prio = _PRIO["CONNECTION_STRING"]
    if "://" in text:
        if "@" in text:
            for m in pt.URL_WITH_CREDS.finditer(text):
                if _placeholder_credential(m.group(3)):
                    continue
                e = _strip_trailing(text, m.start(), m.end())
                out.append((m.start(), e, "CONNECTION_STRING", 0.95, prio))
    low = doc.low
    if ("password" in low or "pwd" in low or "pass=" in low) and ("jdbc:" in low or "://" in text):
        for m in pt.URL_PASSWORD_QUERY.finditer(text):
            q = pt.QUERY_PASSWORD.search(m.group())
            if q and not _placeholder_credential(q.group(1)):
                e = _strip_trailing(text, m.start(), m.end(), ".,:!?)]}'\"`>")
                out.append((m.start(), e, "CONNECTION_STRING", 0.95, prio))
    if ";" in text and "=" in text and any(k in low for k in ("password", "pwd", "accountkey", "sharedaccess")):
        for m in pt.KV_CONN.finditer(text):
            v = m.group()
            if v.count("=") < 2:
                continue
            sec = pt.KV_CONN_SECRET.search(v)
            if sec and not _placeholder_credential(sec.group(1)):
                out.append((m.start(), _strip_trailing(text, m.start(), m.end(), ".,"), "CONNECTION_STRING", 0.9, prio))
    if "password=" in low and ("host=" in low or "dbname=" in low):
        for m in pt.LIBPQ_CONN.finditer(text):
            v = m.group()
            pw = re.search(r"password=(\S+)", v)
            if pw and not _placeholder_credential(pw.group(1).strip("'\"")):
                out.append((m.start(), m.end(), "CONNECTION_STRING", 0.9, prio))


# --- API keys and generic secrets ----------------------------------------------------------


def _looks_redacted(body: str) -> bool:
    return bool(pt.PLACEHOLDER_HINT.search(body)) or len(set(body)) < 6


def _provider_keys(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    prio = _PRIO["API_KEY"]
    for literal, pat in pt.PROVIDER_KEYS:
        if literal not in text:
            continue
        for m in pat.finditer(text):
            s = m.start()
            if s and (text[s - 1].isalnum() or text[s - 1] in "_-"):
                continue  # inside a longer identifier: task-…, mask_…
            e = m.end()
            if e < len(text) and (text[e].isalnum() or text[e] in "_"):
                continue
            v = m.group()
            body = v.split("_")[-1] if "_" in v[:12] else v[3:]
            if _looks_redacted(v) or not any(c.isdigit() for c in body):
                continue
            out.append((s, e, "API_KEY", 0.95, prio))


def _is_cursor(v: str) -> bool:
    """base64 of a JSON object that is not a JWT: pagination cursors (`eyJvZmZzZXQiOjE5MTR9`)."""
    return v.startswith("eyJ") and v.count(".") != 2


def _secret_value_ok(v: str, password: bool) -> bool:
    if pt.UUID.fullmatch(v) or pt.ULID.fullmatch(v) or _is_cursor(v) or "://" in v:
        return False
    if _placeholder_credential(v) or pt.PLACEHOLDER_HINT.search(v):
        return False
    if pt.WORDY.fullmatch(v) or pt.ENV_REFERENCE.fullmatch(v) or v.isdigit():
        return False
    if "/" in v and pt.PATHLIKE.fullmatch(v) and not _mixed_case_digits(v.replace("/", "")):
        return False
    if v.startswith("-----") or v.startswith("data:"):
        return False
    if "@" in v and "." in v.split("@")[-1]:
        return False  # an email address after "contact:"-like names is the email detector's
    classes = sum((any(c.islower() for c in v), any(c.isupper() for c in v), any(c.isdigit() for c in v)))
    classes += any(not c.isalnum() for c in v)
    if password:
        return len(v) >= 8 and classes >= 2 and ck.shannon_entropy(v) >= 2.5
    if len(v) < 16 or not any(c.isdigit() for c in v) or not any(c.isalpha() for c in v):
        return False
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?", v):
        return False
    return ck.shannon_entropy(v) >= 3.0


def _generic_secrets(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    low = doc.low
    if not any(k in low for k in ("key", "token", "secret", "passw", "pwd", "credential", "auth", "bearer")):
        return
    last_value_end = -1
    for m in pt.SECRET_KEYWORD.finditer(text):
        if m.start() < last_value_end:
            continue
        tail = pt.SECRET_NAME_TAIL.match(text, m.end())
        name_end = tail.end() if tail else m.end()
        # The name may run on (api_key_secondary); try the value right after the whole name first.
        val = pt.SECRET_VALUE.match(text, name_end) or pt.SECRET_VALUE.match(text, m.end())
        if val is None:
            continue
        head = pt.SECRET_NAME_HEAD.search(text, max(0, m.start() - 40), m.start())
        name = _norm(text[head.start() if head else m.start() : name_end])
        if pt.SECRET_NAME_DENY.search(name) and "secret" not in name and "password" not in name:
            continue
        vs = val.start(1)
        ve = _strip_trailing(text, vs, val.end(1))
        v = text[vs:ve]
        password = bool(re.search(r"passw|pwd", m.group(), re.IGNORECASE))
        if not _secret_value_ok(v, password):
            continue
        last_value_end = ve
        out.append((vs, ve, "API_KEY", 0.8, _GENERIC_PRIO))
    if "rate" in low and "limit" in low:
        for m in pt.RATE_LIMIT_TOKEN.finditer(text):
            v = text[m.start(1) : _strip_trailing(text, m.start(1), m.end(1))]
            if _secret_value_ok(v, False):
                out.append((m.start(1), m.start(1) + len(v), "API_KEY", 0.7, _GENERIC_PRIO))


# --- contact data --------------------------------------------------------------------------


def _emails(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    prio = _PRIO["EMAIL"]
    i = text.find("@")
    while i >= 0:
        left = pt.EMAIL_LOCAL_TAIL.search(text, max(0, i - 64), i)
        dom = pt.EMAIL_DOMAIN_HEAD.match(text, i + 1)
        if left and dom and dom.group(1).lower() not in pt.NOT_TLDS:
            s = left.start()
            while s < i and text[s] in ".-+%":
                s += 1
            local = text[s:i]
            if local and any(c.isalnum() for c in local) and local != "git":
                out.append((s, dom.end(), "EMAIL", 0.95, prio))
        i = text.find("@", i + 1)
    if "%40" in text:
        for m in pt.EMAIL_URLENC.finditer(text):
            if m.group().rsplit(".", 1)[-1].lower() not in pt.NOT_TLDS:
                out.append((m.start(), m.end(), "EMAIL", 0.9, prio))


_LOCAL_REGIONS = ("GB", "US", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "IE", "PT", "BR", "MX", "IN", "AU")


def _intl_phone_ok(cand: str) -> bool:
    num = "+" + cand[2:] if cand.startswith("00") else cand
    if _pn is None:
        return 8 <= len(_NON_DIGIT.sub("", num)) <= 15
    try:
        n = _pn.parse(num, None)
    except _pn.NumberParseException:
        return False
    # Possible (length for the country) rather than valid: invented-but-plausible numbers are
    # still someone's phone as far as masking is concerned.
    return _pn.is_possible_number(n)


def _nanp_ok(cand: str) -> bool:
    if _pn is None:
        return True
    try:
        return _pn.is_valid_number(_pn.parse(cand, "US"))
    except _pn.NumberParseException:
        return False


def _local_phone_ok(cand: str) -> bool:
    if _pn is None:
        return True
    for region in _LOCAL_REGIONS:
        try:
            if _pn.is_valid_number(_pn.parse(cand, region)):
                return True
        except _pn.NumberParseException:
            continue
    return False


def _phones(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    prio = _PRIO["PHONE"]
    low = doc.low
    gate = _positions(low, pt.PHONE_GATE) if any(w in low for w in pt.PHONE_GATE) else []
    if "+" in text or "00" in text:
        for m in pt.PHONE_INTL.finditer(text):
            s = m.start()
            if s and (text[s - 1].isalnum() or text[s - 1] in "+-_./"):
                continue
            if text[s] == "0" and not _labelled(doc, s, m.end(), pt.PHONE_LABEL, gate):
                continue  # "00" dialling prefix: digit groups inside IBANs and ids start with 00 too
            cand = m.group().rstrip(" .-(")
            if cand.count("(") != cand.count(")"):
                cand = cand.rstrip(")")
            # Trim trailing groups until the number is a possible one ("+1 602 494 9103 2 times").
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
    for m in pt.PHONE_NANP.finditer(text):
        s, e = m.start(), m.end()
        if s and text[s - 1] in "+-./#:" or (e < len(text) and text[e] in "-/" ):
            continue
        if not _nanp_ok(m.group()):
            continue
        if _negatively_labelled(doc, s, e, pt.PHONE_LABEL):
            continue
        out.append((s, e, "PHONE", 0.8, prio))
    if not gate:
        return
    for m in pt.PHONE_LOCAL.finditer(text):
        s, e = m.start(), m.end()
        if s and text[s - 1] in "+-./#:_" or (e < len(text) and text[e] in "-/:_"):
            continue
        cand = m.group()
        nd = len(_NON_DIGIT.sub("", cand))
        if not 7 <= nd <= 13:
            continue
        if _labelled(doc, s, e, pt.PHONE_LABEL, gate) and _local_phone_ok(cand):
            out.append((s, e, "PHONE", 0.75, prio))


def _ip_addresses(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    prio = _PRIO["IP_ADDRESS"]
    if "." in text:
        for m in pt.IPV4.finditer(text):
            s = m.start()
            if pt.VERSION_LEFT.search(text, max(0, s - 24), s):
                continue
            ip = ipaddress.IPv4Address(m.group())
            if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_reserved or m.group().startswith("0."):
                continue
            octets = [int(x) for x in m.group().split(".")]
            if octets[0] == 255:
                continue  # a netmask
            if octets[0] < 10 and all(o < 100 for o in octets):
                # Small dotted quads are usually versions (2.14.3.1); keep them when labelled as addresses.
                lab, _ = doc.label(s, m.end())
                if not pt.IP_LABEL.search(lab):
                    continue
            out.append((s, m.end(), "IP_ADDRESS", 0.9, prio))
    if "::" in text or text.count(":") >= 7:
        for m in pt.IPV6.finditer(text):
            cand = m.group()
            addr = cand.split("%", 1)[0]
            try:
                ip6 = ipaddress.IPv6Address(addr)
            except ValueError:
                continue
            if ip6.is_loopback or ip6.is_unspecified or ip6.is_multicast:
                continue
            groups = [g for g in addr.split(":") if g]
            if len(groups) < 2 or max(len(g) for g in groups) < 3:
                continue  # "1::2" slices, "a::b" scopes
            out.append((m.start(), m.end(), "IP_ADDRESS", 0.9, prio))


# --- numbers -------------------------------------------------------------------------------


def _cards(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    for m in pt.CARD.finditer(text):
        digits = _NON_DIGIT.sub("", m.group())
        if not (ck.card_brand_ok(digits) and ck.luhn_ok(digits)):
            continue
        if _negatively_labelled(doc, m.start(), m.end(), pt.CARD_LABEL):
            continue
        out.append((m.start(), m.end(), "CREDIT_CARD", 0.95, _PRIO["CREDIT_CARD"]))


def _ibans(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    for m in pt.IBAN.finditer(text):
        want = ck.IBAN_LENGTHS.get(m.group()[:2])
        if want is None:
            continue
        # Walk to exactly the country's length; a longer match swallowed the next word ("… 37 BIC").
        s, n, e = m.start(), 0, m.start()
        while e < m.end() and n < want:
            if text[e] != " ":
                n += 1
            e += 1
        if n != want or (e < len(text) and text[e].isalnum()):
            continue
        if ck.iban_ok(text[s:e].replace(" ", "")):
            out.append((s, e, "IBAN", 0.95, _PRIO["IBAN"]))


def _id_checksum_ok(digits: str) -> bool:
    if len(digits) == 9:
        return ck.ssn_ok(digits) or ck.sin_ok(digits) or ck.bsn_ok(digits)
    if len(digits) == 8:
        return ck.bsn_ok(digits)
    if len(digits) == 12:
        return ck.aadhaar_ok(digits)
    return False


def _national_ids(doc: _Doc, out: list[_Cand]) -> None:
    text = doc.text
    prio = _PRIO["NATIONAL_ID"]
    if "-" in text:
        for m in pt.SSN_DASHED.finditer(text):
            digits = m.group().replace("-", "")
            if ck.ssn_ok(digits) and not _negatively_labelled(doc, m.start(), m.end(), pt.ID_LABEL):
                out.append((m.start(), m.end(), "NATIONAL_ID", 0.85, prio))
    for m in pt.NINO.finditer(text):
        if ck.nino_ok(m.group()):
            out.append((m.start(), m.end(), "NATIONAL_ID", 0.85, prio))
    for m in pt.DNI.finditer(text):
        if ck.dni_ok(m.group()):
            out.append((m.start(), m.end(), "NATIONAL_ID", 0.85, prio))
    low = doc.low
    if not any(w in low for w in pt.ID_GATE) and not doc.tabular:
        return
    gate = _positions(low, pt.ID_GATE)
    for m in pt.ID_DIGITS.finditer(text):
        digits = _NON_DIGIT.sub("", m.group())
        if _id_checksum_ok(digits) and _labelled(doc, m.start(), m.end(), pt.ID_LABEL, gate):
            out.append((m.start(), m.end(), "NATIONAL_ID", 0.8, prio))


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


_MONTH_PREFIX = {
    "jan": 1, "ene": 1, "feb": 2, "fév": 2, "fev": 2, "mar": 3, "mär": 3, "apr": 4, "avr": 4, "abr": 4,
    "may": 5, "mai": 5, "jun": 6, "jui": 7, "jul": 7, "aug": 8, "aoû": 8, "aou": 8, "ago": 8, "sep": 9,
    "set": 9, "oct": 10, "okt": 10, "nov": 11, "dec": 12, "dez": 12, "déc": 12, "dic": 12,
}  # fmt: skip


def _month_number(word: str) -> int:
    w = word.lower()
    if w.startswith("juin") or w.startswith("junio"):
        return 6
    if w.startswith("juil"):
        return 7
    return _MONTH_PREFIX.get(w[:3], 0)


def _dates_of_birth(doc: _Doc, out: list[_Cand]) -> None:
    low = doc.low
    if not any(w in low for w in pt.DOB_GATE):
        return
    gate = _positions(low, pt.DOB_GATE)
    for m in pt.DATE.finditer(doc.text):
        if not any(ck.plausible_birth_date(*p) for p in _date_parts(m)):
            continue
        if _labelled(doc, m.start(), m.end(), pt.DOB_LABEL, gate):
            out.append((m.start(), m.end(), "DATE_OF_BIRTH", 0.8, _PRIO["DATE_OF_BIRTH"]))


# --- driver --------------------------------------------------------------------------------

# (types a detector can emit, whether it needs a digit in the text, detector)
_DETECTORS: tuple[tuple[frozenset[str], bool, Callable[[_Doc, list[_Cand]], None]], ...] = (
    (frozenset({"PRIVATE_KEY"}), False, _private_keys),
    (frozenset({"JWT"}), False, _jwts),
    (frozenset({"AWS_ACCESS_KEY"}), False, _aws_access_keys),
    (frozenset({"AWS_SECRET_KEY"}), False, _aws_secret_keys),
    (frozenset({"CONNECTION_STRING"}), False, _connection_strings),
    (frozenset({"API_KEY"}), False, _provider_keys),
    (frozenset({"API_KEY"}), False, _generic_secrets),
    (frozenset({"EMAIL"}), False, _emails),
    (frozenset({"PHONE"}), True, _phones),
    (frozenset({"IP_ADDRESS"}), False, _ip_addresses),
    (frozenset({"CREDIT_CARD"}), True, _cards),
    (frozenset({"IBAN"}), True, _ibans),
    (frozenset({"NATIONAL_ID"}), True, _national_ids),
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
        if i and ends[i - 1] > s:
            continue
        if i < len(starts) and starts[i] < e:
            continue
        starts.insert(i, s)
        ends.insert(i, e)
        kept.insert(i, c)
    return [Span(c[0], c[1], c[2]) for c in kept]


def detect(text: str, types: frozenset[str] | None = None) -> list[Span]:
    """Non-overlapping spans sorted by start; only the given types (None = all pattern types).

    Detectors of types not asked for do not run, so they cannot claim text either."""
    if not text:
        return []
    want = TYPES if types is None else types & TYPES
    if not want:
        return []
    doc = _Doc(text)
    digit = _has_digit(text)
    cands: list[_Cand] = []
    for emits, needs_digit, fn in _DETECTORS:
        if emits & want and (digit or not needs_digit):
            fn(doc, cands)
    cands = [c for c in cands if c[2] in want and c[3] >= MIN_CONFIDENCE[c[2]] and c[1] > c[0]]
    return _resolve(cands)
