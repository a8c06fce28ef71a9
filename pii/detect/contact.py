"""Contact data: e-mail addresses, international phone numbers, IPv6 addresses (IPv4 and national
phone formats are read with the other digit runs in pii/detect/numbers.py)."""

from __future__ import annotations

import functools
import ipaddress
import re

from pii import patterns as pt
from pii.detect.document import (
    _NON_DIGIT,
    _PRIO,
    _Cand,
    _Doc,
    _find_all,
)

try:  # libphonenumber metadata; without it, phone numbers are checked by shape and length only
    import phonenumbers as _pn
except ImportError:  # pragma: no cover - exercised only where the pinned package is missing
    _pn = None  # type: ignore[assignment]


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
            out.append((s, dom.end(), "EMAIL", prio))
    if pt.SPELLED_AT.search(doc.low):
        for m in pt.EMAIL_SPELLED.finditer(text):
            tld = m.group("tld").lower()
            if tld not in pt.NOT_TLDS and (m.group("spelled") or tld in pt.COMMON_TLDS):
                out.append((m.start(), m.end(), "EMAIL", prio))
    done = -1
    for i in _find_all(text, "%40"):  # URL-encoded: name%2Btag%40example.com
        if i < done:
            continue
        for m in pt.EMAIL_URLENC.finditer(text, max(0, i - 200), min(len(text), i + 260)):
            if m.start() <= i < m.end() and m.group().rsplit(".", 1)[-1].lower() not in pt.NOT_TLDS:
                out.append((m.start(), m.end(), "EMAIL", prio))
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
                    out.append((s, s + len(cand), "PHONE", prio))
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
        out.append((m.start(), m.end(), "IP_ADDRESS", _PRIO["IP_ADDRESS"]))


_HEX_COLON = frozenset("0123456789abcdefABCDEF:.")
