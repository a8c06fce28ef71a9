"""Everything made of digits: cards, IPv4, national phone formats, national ids, IBANs, NINOs and
dates of birth."""

from __future__ import annotations

import bisect
import re

from pii import checksums as ck
from pii import patterns as pt
from pii.detect.contact import _ipv4_ok, _local_phone_ok, _nanp_ok
from pii.detect.document import (
    _NON_DIGIT,
    _PRIO,
    _Cand,
    _Doc,
    _has_digit,
    _labelled,
    _negatively_labelled,
)

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
                    out.append((m.start(), m.end(), "IP_ADDRESS", _PRIO["IP_ADDRESS"]))
        if cards and nd >= 13:
            for m in pt.CARD.finditer(text, ws, we):
                digits = _NON_DIGIT.sub("", m.group())
                if (
                    ck.card_brand_ok(digits)
                    and ck.luhn_ok(digits)
                    and not _negatively_labelled(doc, m.start(), m.end(), pt.CARD_LABEL)
                ):
                    out.append((m.start(), m.end(), "CREDIT_CARD", _PRIO["CREDIT_CARD"]))
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
                out.append((s, e, "PHONE", prio))
    if 9 <= nd <= 12 and (r[0] == "0" or ")" in r):
        for m in pt.PHONE_STRONG.finditer(text, ws, we):
            s, e = m.start(), m.end()
            if _local_phone_ok(m.group()) and not _negatively_labelled(doc, s, e, pt.PHONE_LABEL):
                left, _, _ = doc.label(s, e)
                if pt.PHONE_LABEL.search(left) or not (pt.ID_LABEL.search(left) or pt.CARD_LABEL.search(left)):
                    out.append((s, e, "PHONE", prio))
    if labelled_region:
        for m in pt.PHONE_LOCAL.finditer(text, ws, we):
            s, e = m.start(), m.end()
            if (s and text[s - 1] in "+-./#:_") or (e < n and text[e] in "-/:_") or _DATE_LIKE.fullmatch(m.group()):
                continue
            # The label is the evidence here; libphonenumber's ranges would only reject invented numbers.
            if 7 <= len(_NON_DIGIT.sub("", m.group())) <= 13 and _labelled(doc, s, e, pt.PHONE_LABEL, gate):
                out.append((s, e, "PHONE", prio))


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
                out.append((s, e, "NATIONAL_ID", prio))
    if nd <= 8 and r.isdigit() and re_ < n and text[re_ : re_ + 2].lstrip("-")[:1].isalpha():  # 12345678Z
        for m in pt.DNI.finditer(text, ws, min(n, re_ + 3)):
            if ck.dni_ok(m.group()):
                out.append((m.start(), m.end(), "NATIONAL_ID", prio))
    if labelled_region and nd >= 8:
        for m in pt.ID_DIGITS.finditer(text, ws, we):
            s, e = m.start(), m.end()
            if _labelled(doc, s, e, pt.ID_LABEL, gate) and _id_value_ok(m, " ".join(doc.label(s, e)[:2])):
                out.append((s, e, "NATIONAL_ID", prio))


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
                    out.append((s, e, "IBAN", _PRIO["IBAN"]))
                    continue
        if nino:
            m = pt.NINO.match(text, s)
            if m and ck.nino_ok(m.group()):
                out.append((s, m.end(), "NATIONAL_ID", _PRIO["NATIONAL_ID"]))


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
                out.append((m.start(), m.end(), "DATE_OF_BIRTH", _PRIO["DATE_OF_BIRTH"]))


_CARD_CODES = ("pin", "cvv", "cvc", "security code")
# Labels that are also everyday words in some language: they count only in capitals (EIN, TIN).
_ACRONYMS = frozenset({"ein", "tin", "rut", "nir", "dl", "aba", "rfc", "vin"})


def _labelled_ids(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    """Identifiers whose label names them, whatever the issuer's format: passport and licence
    numbers, bank accounts, tax and health ids, PINs and card security codes. Without a label such
    values are order numbers and SKUs; with one they are a person's."""
    gate = doc.hits("idlabel")
    if not gate:
        return
    text = doc.text
    prio = _PRIO["NATIONAL_ID"]
    done = -1
    for p in gate:
        if p < done or (p and text[p - 1].isalnum() and not text[p].isupper()):
            continue
        m = pt.LABELLED_ID.match(text, p)
        if m is None:
            continue
        if text[p : p + 4].lower().rstrip(" #:") in _ACRONYMS and not text[p : p + 2].isupper():
            continue  # "ein 25000-Euro-Auftrag", "tin 500", "rut": words unless written as the acronym
        s = m.start("v")
        tokens = m.group("v").split(" ")
        kept = [tokens[0]]
        for tok in tokens[1:]:  # "X12345678 expires soon": the value ends at the first word
            if not _has_digit(tok):
                break
            kept.append(tok)
        v = " ".join(kept)
        digits = sum(c.isdigit() for c in v)
        alnum = sum(c.isalnum() for c in v)
        label = text[p : m.start("v")].lower()
        if label.startswith(_CARD_CODES):
            ok = v.isdigit() and 3 <= len(v) <= 8
        else:
            ok = 5 <= alnum <= 24 and digits >= 2 and pt.DATE.fullmatch(v) is None
        if ok:
            out.append((s, s + len(v), "NATIONAL_ID", prio))
            done = s + len(v)
