"""Check digits and shape rules the pattern tier validates candidates with.

Pure functions over strings; each says what it checks and, where a rule is easy to get wrong,
where it comes from. Inputs are the value's surface form: separators are stripped here.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter

# --- payment cards -----------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812-1 mod-10 over a digit string (cards, Canadian SIN)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand_ok(digits: str) -> bool:
    """IIN prefix and length of a major network (Visa, Mastercard, Amex, Discover, Diners, JCB,
    UnionPay, Maestro, Mir). An unknown prefix is not a card: epoch-ms timestamps start with 1."""
    n = len(digits)
    p2 = int(digits[:2])
    p3 = int(digits[:3])
    p4 = int(digits[:4])
    p6 = int(digits[:6])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925:
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):
        return 14 <= n <= 19
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if p2 == 62:
        return 16 <= n <= 19
    if 2200 <= p4 <= 2204:
        return n == 16
    if p4 in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763):
        return 12 <= n <= 19
    return False


# --- IBAN ----------------------------------------------------------------------------------

# ISO 13616 registry lengths (SWIFT IBAN registry), including the common partial adopters.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban_ok(compact: str) -> bool:
    """Country length and ISO 7064 mod-97-10 over an IBAN without spaces (upper case)."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    num = "".join(str(int(ch, 36)) for ch in moved)
    return int(num) % 97 == 1


# --- national identifiers ------------------------------------------------------------------


def ssn_ok(digits: str) -> bool:
    """US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000 (SSA rules since 2011)."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def sin_ok(digits: str) -> bool:
    """Canadian SIN: Luhn; first digit 0 and 8 are never issued."""
    return digits[0] not in "08" and luhn_ok(digits)


def bsn_ok(digits: str) -> bool:
    """Dutch BSN '11-test': 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 divisible by 11, and not all zero."""
    if len(digits) == 8:
        digits = "0" + digits
    if digits == "000000000":
        return False
    total = sum((9 - i) * (ord(ch) - 48) for i, ch in enumerate(digits[:8])) - (ord(digits[8]) - 48)
    return total % 11 == 0


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_ok(value: str) -> bool:
    """Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter): letter = number mod 23."""
    v = value.replace("-", "").replace(" ", "").upper()
    head, letter = v[:-1], v[-1]
    if head[0] in "XYZ":
        head = str("XYZ".index(head[0])) + head[1:]
    return head.isdigit() and len(head) == 8 and _DNI_LETTERS[int(head) % 23] == letter


# HMRC NIM39110: first letter not D F I Q U V; second not D F I O Q U V; some pairs never issued.
_NINO_BAD_FIRST = frozenset("DFIQUV")
_NINO_BAD_SECOND = frozenset("DFIOQUV")
_NINO_BAD_PREFIX = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def nino_ok(value: str) -> bool:
    v = value.replace(" ", "").upper()
    if len(v) != 9 or not v[2:8].isdigit() or v[8] not in "ABCD":
        return False
    return v[0] not in _NINO_BAD_FIRST and v[1] not in _NINO_BAD_SECOND and v[:2] not in _NINO_BAD_PREFIX


# Verhoeff tables (dihedral group D5), as UIDAI uses for the Aadhaar check digit.
_VD = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)  # fmt: skip
_VP = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)  # fmt: skip


def verhoeff_ok(digits: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VD[c][_VP[i % 8][ord(ch) - 48]]
    return c == 0


def aadhaar_ok(digits: str) -> bool:
    """12 digits, first not 0 or 1 (UIDAI never issues those), Verhoeff check digit."""
    return len(digits) == 12 and digits[0] not in "01" and verhoeff_ok(digits)


# --- dates ---------------------------------------------------------------------------------


def plausible_birth_date(year: int, month: int, day: int) -> bool:
    """A real calendar date between 1900 and today: birth dates are in the past."""
    if not 1900 <= year <= datetime.date.today().year:
        return False
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


# --- secrets -------------------------------------------------------------------------------


# c * log2(c) for the counts values have (up to a few hundred characters): a table lookup in
# `map` keeps the sum in C.
_XLOG2X = [0.0] + [c * math.log2(c) for c in range(1, 513)]


def shannon_entropy(s: str) -> float:
    """Bits per character of the value's own character distribution:
    H = log2(n) - sum(c * log2(c)) / n over the characters' counts c."""
    n = len(s)
    if not n:
        return 0.0
    counts = Counter(s).values()
    if n < len(_XLOG2X):
        return math.log2(n) - sum(map(_XLOG2X.__getitem__, counts)) / n
    return math.log2(n) - sum(c * math.log2(c) for c in counts) / n
