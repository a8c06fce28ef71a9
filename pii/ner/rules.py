"""Rules of the NER tier: labelled values (keys, table columns, SQL), street lines, company names,
self-introductions, the gazetteer, and the scoring of the model's entities; pure functions."""

from __future__ import annotations

import re

from pii.ner.base import MIN_SCORE
from pii.ner.words import (
    _AMBIGUOUS_PLACES,
    _COMMON,
    _GENERIC_MOD,
    _ORG_CUES,
    _ORG_DESCRIPTORS,
    _ORG_LEGAL,
    _ORG_LEGAL_END,
    _ORG_SUFFIX_WORDS,
    _PARTICLES,
    _PERSON_CUES,
    _PERSON_ONLY_CUES,
    _PLACE_CUES,
    _PLACES,
    _TECH,
    _TECH_STRICT,
    _TITLES,
    Cand,
)
from pii.structure import SQL_INSERT, sql_columns, sql_rows, tables
from pii.world_names import world_candidates

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEP = re.compile(r"[\s_.\-/]+")
_DIGIT = re.compile(r"\d")
_BAD_CHARS = frozenset('_=/\\<>{}[]@#$%^*+~|`;\n\t\r"')
_TRIM_LEAD = " \t\r\n\"'`([{<«“\u2018*_-:,;"
_TRIM_TAIL = " \t\r\n\"'`)]}>»”\u2019*_,;:!?."
# A final dot that belongs to the value: `S.A.S.`, `S.Com.`, `Inc.`, `Jr.`
_ABBREV_END = re.compile(
    r"(?:^|\s)(?:[A-Za-z]{1,4}\.){2,}$|\b(?:Inc|Ltd|Co|Corp|Jr|Sr|Bros|Pty|Pvt|Ltda|Kft|Zrt|Nyrt|Coop|Com|Şti)\.$"
)


def _norm_key(key: str) -> str:
    """`CUSTOMER_NAME` / `customerName` / `address-line1` -> `customer name` / `address line`."""
    k = _CAMEL.sub(" ", key.strip().strip("\"'`*"))
    k = _DIGIT.sub("", _SEP.sub(" ", k)).lower()
    return " ".join(k.split())


_PERSON_KEYS = frozenset(
    """full name|first name|last name|given name|family name|middle name|surname|firstname|
    lastname|fullname|givenname|familyname|forename|customer name|contact name|holder name|
    cardholder|cardholder name|card holder|card holder name|account holder|account holder name|
    beneficiary|beneficiary name|recipient name|sender name|employee|employee name|patient|
    patient name|person|person name|passenger|passenger name|guest name|applicant|applicant name|
    owner name|author name|manager name|contact person|assignee|assigned to|reporter|requester|
    requested by|submitted by|signed by|approved by|attn|attention|emergency contact|next of kin|
    spouse|billing name|shipping name|ship to name|bill to name|user full name|driver name|
    student name|member name|point of contact|primary contact|customer contact|nom|nombre|
    vorname|nachname|cognome|apellido|apellidos|prénom""".replace("\n", "").split("|")
)
_ORG_KEYS = frozenset(
    """company|company name|companyname|organization|organisation|organization name|
    organisation name|org name|employer|employer name|vendor|vendor name|supplier|supplier name|
    merchant|merchant name|business|business name|bank name|institution|institution name|firm|
    firm name|agency|tenant name|customer company|corporation|legal entity|insurer|client company|
    company legal name|registered name|trading name|partner name|empresa|firma|unternehmen|
    société|societe|azienda""".replace("\n", "").split("|")
)
_LOC_KEYS = frozenset(
    """city|town|country|country name|address|street|street address|address line|street line|
    billing address|shipping address|home address|postal address|mailing address|residential address|
    physical address|delivery address|office address|registered address|business address|
    permanent address|current address|street name|address street|residence|place of birth|birthplace|
    birth place|location|province|county|municipality|locality|hometown|city name|ville|ciudad|
    stadt|città|citta|pays|país|land|adresse|dirección|direccion|indirizzo|morada|endereço|
    calle|rue|straße|strasse""".replace("\n", "").split("|")
)
# Keys whose value may be a person or a company (or neither): decided by the value's shape.
_AMBIG_KEYS = frozenset(
    """name|display name|holder|owner|contact|customer|client|account name|tenant|recipient|sender|
    from|author|legal name|payee|payer|counterparty|buyer|seller|party|to|cc|bill to|ship to|
    sold to|signatory""".replace("\n", "").split("|")
)
_KEY_TAILS = frozenset(k.split()[-1] for k in _PERSON_KEYS | _ORG_KEYS | _LOC_KEYS | _AMBIG_KEYS)


def _key_type(key: str) -> str | None:
    """PERSON / ORGANIZATION / LOCATION for a specific key, "?" for an ambiguous one, else None."""
    nk = _norm_key(key)
    if not nk:
        return None
    words = nk.split()
    if words[-1] not in _KEY_TAILS:
        return None
    for n in (3, 2, 1):
        if len(words) < n:
            continue
        tail = " ".join(words[-n:])
        if tail in _PERSON_KEYS:
            return "PERSON"
        if tail in _ORG_KEYS:
            return "ORGANIZATION"
        if tail in _LOC_KEYS:
            return "LOCATION"
    if " ".join(words[-2:]) in _AMBIG_KEYS or (len(words) <= 2 and words[-1] in _AMBIG_KEYS):
        return "?"
    return None


def _script_letters(s: str) -> tuple[int, int, int]:
    """(cased Latin/Greek/Cyrillic letters, uppercase among them, uncased letters like CJK)."""
    cased = upper = uncased = 0
    for ch in s:
        if ch.isalpha():
            if ch.isupper() or ch.islower():
                cased += 1
                upper += ch.isupper()
            else:
                uncased += 1
    return cased, upper, uncased


def _tok_core(tok: str) -> str:
    return tok.strip(".,'\u2019\"()«»").lower()


def _is_name_token(tok: str) -> bool:
    """`Taylor`, `O'Neil`, `Jean-Luc`, `McDonald`, `Dương`, `渡辺直人`; not `ID_TOKEN`, `UserFixtures`."""
    core = tok.strip(".")
    if not core:
        return False
    if not all(ch.isalpha() or ch in "'\u2019-" for ch in core):
        return False
    cased, upper, uncased = _script_letters(core)
    if uncased and not cased:
        return True
    if not core[0].isupper():
        return False
    if cased > 1 and upper == cased:  # ACRONYM
        return False
    rest = core[1:]
    humps = [i for i, ch in enumerate(rest, 1) if ch.isupper() and core[i - 1].islower()]
    if humps:  # CamelCase: only Mc/Mac/O'/De-style surnames
        return bool(re.fullmatch(r"(?:Mc|Mac|De|Di|Da|La|Le|Van|Von|Fitz)[A-Z][a-z]+", core)) or all(
            core[i - 1] in "'\u2019-" for i in humps
        )
    return True


def _valid_person(value: str) -> bool:
    if value.count(",") == 1:  # "Doe, Jane": a list's last-name-first form
        last, first = value.split(",")
        return bool(last.strip() and first.strip()) and _valid_person(last.strip()) and _valid_person(first.strip())
    toks = value.split()
    if not 1 <= len(toks) <= 5 or len(value) > 80:
        return False
    if any(ch.isdigit() or ch in _BAD_CHARS or ch in ":,()" for ch in value):
        return False
    named = 0
    for i, t in enumerate(toks):
        low = _tok_core(t)
        if 0 < i < len(toks) - 1 and low in _PARTICLES:
            continue
        if low in _COMMON or low in _TECH_STRICT or not _is_name_token(t):
            return False
        named += 1
    return named >= 1


def _valid_org(value: str) -> bool:
    toks = value.split()
    if not 1 <= len(toks) <= 8 or len(value) > 100:
        return False
    if any(ch in _BAD_CHARS for ch in value) or sum(ch.isdigit() for ch in value) > 3:
        return False
    cased, upper, uncased = _script_letters(value)
    if not (cased or uncased):
        return False
    first = value.lstrip("«\"“'(")
    if not first or (first[0].islower()) or (cased and not upper):
        return False
    if len(toks) == 1 and cased > 1 and upper == cased and len(value) <= 6:  # an acronym alone
        return False
    if _compact(value) in _TECH or _tok_core(toks[0]) in _TECH:
        return False
    return not all(_tok_core(t) in _COMMON for t in toks)


def _valid_place(value: str, street: bool) -> bool:
    if not 2 <= len(value) <= 120 or any(ch in _BAD_CHARS and ch != "/" for ch in value):
        return False
    if "@" in value or "://" in value or value.count("/") > 1:
        return False
    cased, upper, uncased = _script_letters(value)
    if not (cased or uncased):
        return False
    if street:
        return bool(re.search(r"[^\W\d_]{3,}", value)) and not re.fullmatch(r"[\d\s.,:-]+\w?", value)
    if any(ch.isdigit() for ch in value) or "/" in value:
        return False
    if cased + uncased < 3 and not _place_hit(value):  # "DE", "NY": codes, not the place itself
        return False
    if cased and not upper:
        return False
    return not all(_tok_core(t) in _COMMON or _tok_core(t) in _TECH_STRICT for t in value.split())


def _compact(s: str) -> str:
    return re.sub(r"[\s.\-]+", "", s.lower())


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    """Shrink [s, e) to the value: no surrounding whitespace, quotes or trailing punctuation, but
    keep the dot of `Inc.` / `S.A.S.` and balanced brackets/guillemets."""
    while s < e and text[s] in _TRIM_LEAD:
        if text[s] == "«" and "»" in text[s:e]:
            break
        s += 1
    while e > s and text[e - 1] in _TRIM_TAIL:
        ch = text[e - 1]
        if ch == "." and _ABBREV_END.search(text[s:e]):
            break
        if ch == "»" and "«" in text[s:e]:
            break
        if ch == ")" and "(" in text[s:e]:
            break
        e -= 1
    # Possessive: "Derek Taylor's" -> "Derek Taylor"
    if e - s > 3 and text[e - 2 : e] in ("'s", "\u2019s"):
        e -= 2
    return s, e


def _boundary_ok(text: str, s: int, e: int) -> bool:
    """The span must not be a piece of a larger token: `java.util`, `ID_TOKEN`, `Map<`, `x.Foo()`."""
    if s > 0:
        p = text[s - 1]
        if p.isalnum() or p in "_./\\<$@#%&*+=~^-":
            return False
    if e < len(text):
        n = text[e]
        if n == "\\" and text[e + 1 : e + 2] in ('"', "'"):
            return True  # the end of a value in escaped JSON
        if n.isalnum() or n in "_/\\<>(@#$%*+=~^[{":
            return False
        if n in ".:-" and e + 1 < len(text) and (text[e + 1].isalnum() or text[e + 1] in "_/"):
            return False
    return True


def _prev_words(text: str, s: int, n: int = 3) -> list[str]:
    return [w.lower() for w in re.findall(r"[^\W\d_]+", text[max(0, s - 40) : s])[-n:]]


def _strip_common_edges(text: str, s: int, e: int, person: bool) -> tuple[int, int]:
    """Drop leading titles/greetings/header words ("Customer Derek Taylor" -> "Derek Taylor"), and
    for a person the word that points at one ("Ask Zhang Wei", "Driver Kevin O'Neill")."""
    while True:
        m = re.match(r"\S+\s+", text[s:e])
        if not m:
            break
        low = _tok_core(m.group().rstrip())
        if low in _COMMON or (person and (low in _TITLES or low in _PERSON_CUES)):
            s += m.end()
        else:
            break
    while True:
        m = re.search(r"\s+\S+$", text[s:e])
        if not m:
            break
        if _tok_core(m.group().lstrip()) in _COMMON:
            e = s + m.start()
        else:
            break
    return s, e


def _place_hit(value: str) -> str | None:
    """'strong' for an unambiguous gazetteer place, 'weak' for an ambiguous one, else None."""
    low = " ".join(value.lower().split())
    if low in _PLACES:
        return "weak" if low in _AMBIGUOUS_PLACES else "strong"
    return None


_LEFT_TOKEN = re.compile(r"([^\W\d_][\w'\u2019-]*) $")
_RIGHT_TOKEN = re.compile(r" ([^\W\d_][\w'\u2019-]*)(?![\w'\u2019-])")


def _extend_name(text: str, s: int, e: int) -> tuple[int, int]:
    """The small model often catches half a name ("Éléonore Jacques" -> "Jacques"): take one more
    name-like word on each side if it is no common word."""

    def ok(tok: str) -> bool:
        low = _tok_core(tok)
        return (
            _is_name_token(tok)
            and low not in _COMMON
            and low not in _TITLES
            and low not in _TECH_STRICT
            and low not in _PERSON_CUES
        )

    if len(text[s:e].split()) < 4:
        m = _LEFT_TOKEN.search(text, max(0, s - 40), s)
        if m and m.end() == s and ok(m.group(1)) and _boundary_ok(text, m.start(1), e):
            s = m.start(1)
    if len(text[s:e].split()) < 4:
        m = _RIGHT_TOKEN.match(text, e)
        if m and ok(m.group(1)) and _boundary_ok(text, s, m.end(1)):
            e = m.end(1)
    return s, e


_UNCASED_SCRIPT = re.compile(r"[\u0590-\u08ff\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


_FROM_PLACE = re.compile(r",? from [A-Z]")


def score_model_entity(text: str, s: int, e: int, label: str) -> Cand | None:
    """Validate and score one spaCy entity (label already mapped to our types). None = rejected."""
    s, e = max(0, s), min(e, len(text))
    s, e = _trim(text, s, e)
    if e <= s:
        return None
    s, e = _strip_common_edges(text, s, e, label == "PERSON")
    s, e = _trim(text, s, e)
    if e - s < 2 or not _boundary_ok(text, s, e):
        return None
    value = text[s:e]
    if any(ch in _BAD_CHARS for ch in value):
        return None
    if _UNCASED_SCRIPT.search(value):
        return None  # the English model guesses at Hebrew, Arabic, Han, Hangul runs; the world rules read them
    toks = value.split()
    prev = _prev_words(text, s)
    place = _place_hit(value)
    if label == "PERSON":
        if place == "strong":  # the small model calls "Lisbon" a person
            return (s, e, "LOCATION", 0.8)
        if not _valid_person(value):
            return None
        s, e = _extend_name(text, s, e)
        toks = text[s:e].split()
        # a lone first or last name is weak evidence unless a cue ("Hi", "customer", "by") precedes it
        cue = any(w in _PERSON_CUES for w in prev)
        return (s, e, "PERSON", 0.85 if len(toks) >= 2 else 0.45 + (0.2 if cue else 0.0))
    if label == "ORGANIZATION":
        if place == "strong":
            return (s, e, "LOCATION", 0.75)
        if not _valid_org(value) or any(ch.isdigit() for ch in value):
            return None
        namelike = all(_is_name_token(t) or _tok_core(t) in _PARTICLES or t in ("&", "and", "of") for t in toks)
        if not namelike and not _ORG_LEGAL_END.search(value):
            return None
        suffix = _tok_core(toks[-1]) in _ORG_SUFFIX_WORDS or bool(_ORG_LEGAL_END.search(value))
        if _tok_core(toks[0]) in _COMMON:
            return None
        if len(toks) == 1:
            score = 0.4 + (0.25 if any(w in _ORG_CUES for w in prev) else 0.0)
        elif suffix:
            score = 0.85
        elif any(_tok_core(t) in _COMMON or _tok_core(t) in _GENERIC_MOD for t in toks):
            return None
        elif prev and prev[-1] in _PERSON_ONLY_CUES and len(toks) <= 3 and _valid_person(value):
            return (s, e, "PERSON", 0.7)  # "customer Başok Akçay": the small model says ORG
        else:
            score = 0.6
        return (s, e, "ORGANIZATION", score)
    # LOCATION (GPE / LOC / FAC)
    if (
        not place
        and 2 <= len(toks) <= 3
        and _FROM_PLACE.match(text, e)
        and not any(w in _PLACE_CUES for w in prev)
        and _valid_person(value)
    ):
        return (s, e, "PERSON", 0.65)  # "Olusegun Adeyemi from Lagos": people come from places
    if not _valid_place(value, street=False):
        return None
    if not all(_is_name_token(t) or _tok_core(t) in _PARTICLES for t in toks):
        return None
    if any(_tok_core(t) in _COMMON or _tok_core(t) in _TECH_STRICT for t in toks):
        return None
    if not place and _compact(value) in _TECH:  # "in Slack"
        return None
    cue = any(w in _PLACE_CUES for w in prev)
    if place:
        score = 0.9
    elif len(toks) >= 2:
        score = 0.6 + (0.15 if cue else 0.0)
    else:
        score = 0.5 + (0.15 if cue else 0.0)
    return (s, e, "LOCATION", score)


# ---- rule candidates ------------------------------------------------------------------------

# key = value / key: value / "key": "value" (JSON, YAML, env, logfmt, kwargs, prose labels).
_KV = re.compile(
    r"""(?<![\w.\-])(?P<key>[A-Za-z][A-Za-z0-9_.\-]{0,40}(?:[ ][A-Za-z][A-Za-z0-9_\-]{0,20}){0,3})
        (?P<kq>\\?["'`]?)[ \t]*(?P<sep>:(?!//)|=>|:=|=(?!=))[ \t]*(?P<q>\\?["'`]?)""",
    re.X,
)
_XML = re.compile(r"<(?P<key>[A-Za-z][\w.\-]{0,40})>(?P<val>[^<>\n]{1,120})</(?P=key)>")
_VALUE_CUT = re.compile(r"\s+#|\s*\|\s|\t|\s{2,}|[;<]|,\s*[A-Za-z][\w ]{0,20}:\s")


def _quoted_end(text: str, i: int, q: str) -> int:
    """Index of the closing quote `q` for a value starting at i (backslash escapes, one line);
    `q` may be an escaped quote (`\\"`, JSON inside a JSON string)."""
    n = len(text)
    if len(q) == 2:
        j = text.find(q, i, min(n, i + 400))
        return n if j < 0 else j
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == q or ch == "\n":
            return i
        i += 1
    return n


def _labelled(text: str, s: int, e: int, ktype: str, ents: list[tuple[int, int, str]]) -> Cand | None:
    """Turn a labelled value into a candidate if it has the shape of its key's type."""
    s, e = _trim(text, s, e)
    if e - s < 2:
        return None
    value = text[s:e]
    if ktype == "PERSON":
        s2, e2 = _strip_common_edges(text, s, e, True)
        if e2 - s2 >= 1 and _valid_person(text[s2:e2]):
            return (s2, e2, "PERSON", 0.95)
        return None
    if ktype == "ORGANIZATION":
        return (s, e, "ORGANIZATION", 0.95) if _valid_org(value) else None
    if ktype == "LOCATION":
        street = bool(re.search(r"\d", value))
        return (s, e, "LOCATION", 0.95) if _valid_place(value, street) else None
    # Ambiguous key ("name", "owner", "from"): a legal-form suffix, a place, or the model's label.
    if _valid_org(value) and _ORG_LEGAL_END.search(value):
        return (s, e, "ORGANIZATION", 0.85)
    if _place_hit(value) == "strong":
        return (s, e, "LOCATION", 0.8)
    for es, ee, lab in ents:
        if es < e and ee > s and (min(e, ee) - max(s, es)) * 2 >= e - s:
            if lab == "PERSON" and _valid_person(value):
                return (s, e, "PERSON", 0.8)
            if lab == "ORGANIZATION" and _valid_org(value):
                return (s, e, "ORGANIZATION", 0.8)
    if not _valid_person(value):
        return None
    cased, _, uncased = _script_letters(value)
    if uncased and not cased and len(value.replace(" ", "")) <= 6:
        return (s, e, "PERSON", 0.75)  # a CJK/Hangul name under a name key
    toks = value.split()
    if 2 <= len(toks) <= 3 and not any(_tok_core(t) in _GENERIC_MOD or _tok_core(t) in _ORG_SUFFIX_WORDS for t in toks):
        return (s, e, "PERSON", 0.6)  # "First Last" under `name=`: people far more often than things
    return None


def _kv_candidates(text: str, ents: list[tuple[int, int, str]]) -> list[Cand]:
    out: list[Cand] = []
    for m in _KV.finditer(text):
        key = m.group("key")
        words = key.split()
        # the regex may have swallowed prose words before the key: try the shortest tails first
        ktype = None
        for n in range(1, len(words) + 1):
            kt = _key_type(" ".join(words[-n:]))
            if kt is not None:
                ktype = kt if ktype is None or kt != "?" else ktype
                if kt != "?":
                    break
        if ktype is None:
            continue
        vs = m.end()
        q = m.group("q")
        if q:
            ve = _quoted_end(text, vs, q)
        else:
            le = text.find("\n", vs)
            le = len(text) if le < 0 else le
            if m.group("sep") == "=" and vs - m.start("sep") == 1 and text[m.start("sep") - 1] not in " \t":
                ws = re.search(r"\s", text[vs:le])  # logfmt: key=value ends at whitespace
                le = vs + ws.start() if ws else le
            cut = _VALUE_CUT.search(text, vs, le)
            ve = cut.start() if cut else le
        if ve - vs > 160 or ve <= vs:
            continue
        c = _labelled(text, vs, ve, ktype, ents)
        if c:
            out.append(c)
    for m in _XML.finditer(text):
        ktype = _key_type(m.group("key"))
        if ktype:
            c = _labelled(text, m.start("val"), m.end("val"), ktype, ents)
            if c:
                out.append(c)
    return out


_TABLE_MAX_ROWS = 5000


def _table_candidates(text: str, ents: list[tuple[int, int, str]]) -> list[Cand]:
    """Columns of TSV/CSV/Markdown tables (pii/structure.py reads them) whose header names a
    person, company or place."""
    out: list[Cand] = []
    for table in tables(text, _TABLE_MAX_ROWS):
        cells = [text[cs:ce].strip().strip('"') for cs, ce in table.header]
        if not any(c[:1].isalpha() for c in cells) or not all(not c or _PLAIN_HEADER.fullmatch(c) for c in cells):
            continue  # a data line or prose, not a header of names
        types = {ci: kt for ci, c in enumerate(cells) if c and (kt := _key_type(c))}
        for row in table.rows:
            for ci, kt in types.items():
                cs, ce = row[ci]
                if c := _labelled(text, cs, ce, kt, ents):
                    out.append(c)
    return out


def _sql_candidates(text: str, ents: list[tuple[int, int, str]]) -> list[Cand]:
    """`INSERT INTO t (cols) VALUES (…), (…)`: values in person/company/place columns."""
    out: list[Cand] = []
    for m in SQL_INSERT.finditer(text):
        cols = [_key_type(c) for c in sql_columns(m)]
        if not any(cols):
            continue
        for cells in sql_rows(text, m.end(), _TABLE_MAX_ROWS):
            if len(cells) != len(cols):
                continue
            for (cs, ce), kt in zip(cells, cols, strict=True):
                if kt and (c := _labelled(text, cs, ce, kt, ents)):
                    out.append(c)
    return out


_PLAIN_HEADER = re.compile(r"[A-Za-z][\w .()/#-]{0,40}")
_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][\w'\u2019.-]*"
_EN_STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|"
    r"Square|Sq|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Trail|Crescent|Close|Row|Grove|Gardens|Park|Hill|"
    r"Mews|Walk|Ridge|Crossing|Heights|Loop|Pike|Plaza|Alley|Expressway|Freeway|Turnpike|Valley|View|"
    r"Harbor|Harbour|Creek|Meadows?|Mills?|Springs?|Summit|Village|Vista|Estates?|Junction|Knoll|"
    r"Landing|Manor|Orchard|Oval|Prairie|Ranch|Shores?|Stravenue|Stream|Causeway|Canyon|Cape|Cove|"
    r"Crest|Dale|Falls|Ferry|Fields?|Flats?|Ford|Forest|Forge|Fork|Garden|Gateway|Glen|Greens?|"
    r"Haven|Hollow|Inlet|Island|Isle|Lakes?|Lodge|Mount|Mountain|Overpass|Pines?|Plains?|Rapids?|"
    r"River|Skyway|Spur|Throughway|Trace|Trafficway|Viaduct|Wall|Wells?|Ville|Port|Station"
)
_STREET_EN = re.compile(
    rf"(?<![\w.,:/#-])\d{{1,6}}[A-Za-z]?,?[ ](?:{_NAME_WORD}[ ]){{1,3}}(?:{_EN_STREET})s?\b\.?"
    r"(?:,?[ ](?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Fl\.?|#)[ ]?[\w-]{1,6})?"
)
_STREET_PREFIX = (
    r"rue|avenue|av\.|boulevard|bd|chemin|place|allée|impasse|quai|route|cours|passage|voie|"
    r"Calle|C/|Avenida|Avda\.?|Camino|Carrer|Carretera|Cuesta|Paseo|Pasaje|Plaza|Rambla|Ronda|"
    r"Glorieta|Callejón|Cañada|Alameda|Urbanización|Vía|Via|Viale|Piazza|Piazzale|Corso|Largo|"
    r"Vicolo|Strada|Contrada|Borgo|Canale|Rotonda|Incrocio|Stretto|Rua|Travessa|Praça|Estrada|"
    r"Rodovia|Ulica|ul\.|Rue|Avenue|Boulevard|Chemin|Place|Allée|Impasse|Quai|Route"
)
_LINK = r"(?:de|del|de la|des|du|la|le|les|di|della|dei|do|da|dos|das|d'|l'|y|e)"
_STREET_LATIN = re.compile(
    rf"(?<![\w.,:/#-])(?:(?P<num>\d{{1,5}}(?:[ ]?(?:bis|ter))?),?[ ])?(?P<prefix>{_STREET_PREFIX})[ ]"
    rf"(?:{_LINK}[ ]?)?{_NAME_WORD}(?:[ ](?:{_LINK}[ ]?)?{_NAME_WORD}){{0,4}}"
    r"(?P<tail>,?[ ](?:n[º°o]\.?[ ]?)?\d{1,5}[A-Za-z]?(?:[ ](?:Puerta|Piso|Apt\.?|Apto\.?|Interno|"
    r"Scala|Esc\.?|Bloque|Planta|Portal)[ ]\w{1,4})*)?"
)
_STREET_GERMANIC = re.compile(
    r"(?<![\w.,:/#-])[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)*(?:straße|strasse|str\.|weg|gasse|"
    r"platz|allee|ring|damm|ufer|steig|pfad|chaussee|straat|laan|gracht|plein|kade|singel|dreef|"
    r"gatan|vägen|gade|vej|veien|gata|pad|dijk|hof|markt|berg)[ ]\d{1,5}(?:-\d{1,4})?[a-zA-Z]?\b"
)
# What follows a street line in an address: a direction (NW), a unit, then, comma or space
# separated, a town, a state code, a postal code (US ZIP, UK and Canadian postcodes, 4-5 digits),
# a country.
# Lower-case words end it ("… DC 20500 by Friday"), so does a sentence end.
_ADDRESS_TAIL = re.compile(
    r"(?:[ ](?:NW|NE|SW|SE|N|S|E|W)\.?(?!\w))?"
    r"(?:,?[ ](?:(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl)\.?[ ]?#?[\w-]{1,6}"
    r"|[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}(?!\w)|[A-Z]\d[A-Z][ ]?\d[A-Z]\d(?!\w)|\d{4,5}(?:-\d{4})?(?!\w)"
    r"|[A-Z]{2,3}[ ]\d{4,5}(?:-\d{4})?(?!\w)|[A-Z]{2,3}(?![\w'])"
    r"|[A-ZÀ-Þ][a-zß-ÿ'\u2019-]+(?:[ ][A-ZÀ-Þ][a-zß-ÿ'\u2019-]+){0,2})){0,6}"
)
_MIDDLE_INITIAL = re.compile(r"(?<![\w.])([A-Z][a-z]+)[ ][A-Z]\.[ ][A-Z][a-z]+(?:-[A-Z][a-z]+)?(?![\w])")


def _address_end(text: str, e: int) -> int:
    """The end of the address a street line starts: its town, state, postal code and country."""
    m = _ADDRESS_TAIL.match(text, e)
    return m.end() if m else e


_LOWER_STREET_PREFIXES = frozenset({"ul.", "rue", "avenue", "boulevard", "chemin", "allée", "impasse", "quai"})
_ORG_RE = re.compile(
    rf"(?<![\w.@/#-])(?P<name>(?:{_NAME_WORD}[ ](?:(?:&|and|of|de|du|von|y)[ ])?){{1,4}})"
    rf"(?P<suffix>{_ORG_LEGAL}|{_ORG_DESCRIPTORS})(?![\w-])\.?"
)
_NAME_RUN = r"[^\W\d_][\w'\u2019.-]*(?:[ ][^\W\d_][\w'\u2019.-]*){0,3}"
_INTRO = re.compile(
    r"(?:\b(?P<myname>[Mm]y name is|[Mm]y name's)|\b(?P<intro>[Tt]his is|I am|I'm|I\u2019m)|"
    rf"(?<![\w-])(?P<greet>Dear|Hi|Hello|Hey|Hallo|Bonjour|Hola|Ciao|Olá))[ \t]+(?P<name>{_NAME_RUN})"
)
_SIGNOFF = re.compile(
    r"(?m)^[ \t]*(?:Thanks|Thank you|Many thanks|Regards|Kind regards|Best regards|Warm regards|Best|Cheers|"
    r"Sincerely|Yours sincerely|Yours truly|Cordialement|Saludos|Grüße|Viele Grüße|Mit freundlichen Grüßen|"
    r"Atentamente|Cordiali saluti|Obrigado|Obrigada|Merci|Danke)[ \t]*[,!.]?[ \t]*\n[ \t]*(?:[-\u2013—]+[ \t]*)?"
    r"(?P<name>[^\n]{1,60})$"
)

# A mailbox's display name: `Jane Roe <jane@example.net>`, `"Roe, Jane" <…>` (mail headers, git
# authors and trailers, mailto lists).
_ANGLE_ADDRESS = re.compile(r"[ \t]*<[\w.+%-]{1,64}@[\w.-]{1,255}>")
_DISPLAY_NAME = re.compile(
    r"(?:(?P<name>[A-Z][\w'.-]{0,40}(?:[ ][A-Z][\w'.-]{0,40}){0,3})|\"(?P<quoted>[^\"<>\n]{2,60})\")$"
)


def _name_prefix(text: str, s: int, e: int) -> tuple[int, int]:
    """The leading run of name-like, non-common words of text[s:e] (at most 3)."""
    end = s
    n = 0
    for m in re.finditer(r"\S+", text[s:e]):
        tok = m.group().rstrip(",.;:!?")
        low = _tok_core(tok)
        if n and low in _PARTICLES and tok == m.group():
            continue  # "Casper van Velzen": kept only if a name word follows
        if n == 3 or not tok or low in _COMMON or low in _TECH_STRICT or not _is_name_token(tok):
            break
        end = s + m.start() + len(tok)
        n += 1
        if tok != m.group():  # punctuation ends the name
            break
    return s, end


def _person_cue_candidates(text: str) -> list[Cand]:
    out: list[Cand] = []
    for m in _INTRO.finditer(text):
        s, e = _name_prefix(text, m.start("name"), m.end("name"))
        if e <= s or not _valid_person(text[s:e]) or not _boundary_ok(text, s, e):
            continue
        many = len(text[s:e].split()) >= 2 or not _script_letters(text[s:e])[0]
        if m.group("myname"):
            out.append((s, e, "PERSON", 0.85))
        elif m.group("greet"):
            out.append((s, e, "PERSON", 0.75))
        elif many:
            out.append((s, e, "PERSON", 0.7))
    if "@" in text:
        for a in _ANGLE_ADDRESS.finditer(text):  # the name is looked for only right before an address
            lo = max(0, a.start() - 180)
            d = _DISPLAY_NAME.search(text, lo, a.start())
            if d is None:
                continue
            g = "name" if d.group("name") else "quoted"
            s, e = _trim(text, d.start(g), d.end(g))
            if e > s and _valid_person(text[s:e].replace(",", "")):
                out.append((s, e, "PERSON", 0.75))
    for m in _SIGNOFF.finditer(text):
        s, e = _trim(text, m.start("name"), m.end("name"))
        if e > s and len(text[s:e].split()) <= 4 and _valid_person(text[s:e]):
            out.append((s, e, "PERSON", 0.75))
    return out


_RU_ORG = re.compile(r"(?<!\w)(?:ООО|ОАО|ЗАО|ПАО|АО|НПО|ИП)[ ]«[^»\n]{1,60}»")  # noqa: RUF001 - Cyrillic legal forms
_CAPRUN = re.compile(rf"(?<![\w.@/#-]){_NAME_WORD}(?:[ ](?:de |da |do |es )?{_NAME_WORD}){{0,3}}")


def _pattern_candidates(text: str) -> list[Cand]:
    out: list[Cand] = []
    for rx in (_STREET_EN, _STREET_GERMANIC):
        for m in rx.finditer(text):
            s, e = _trim(text, m.start(), _address_end(text, m.end()))
            if _boundary_ok(text, s, e):
                out.append((s, e, "LOCATION", 0.88))
    for m in _MIDDLE_INITIAL.finditer(text):  # "John A. Smith": a name the small model often misses
        if _tok_core(m.group(1)) not in _COMMON and _boundary_ok(text, m.start(), m.end()):
            out.append((m.start(), m.end(), "PERSON", 0.7))
    for m in _STREET_LATIN.finditer(text):
        if not (m.group("num") or m.group("tail")):
            continue
        if not m.group("num") and m.group("prefix")[0].islower() and m.group("prefix") not in _LOWER_STREET_PREFIXES:
            continue  # "sent via Slack 3 times"; but "ul. Marszałkowska 10", "rue Lepic 54" are streets
        s, e = _trim(text, m.start(), m.end())
        words = [_tok_core(t) for t in text[m.end("prefix") : e].split()]
        e = _trim(text, s, _address_end(text, e))[1]
        if any(w in _TECH_STRICT or (w in _COMMON and w not in _PARTICLES) for w in words):
            continue
        if _boundary_ok(text, s, e):
            out.append((s, e, "LOCATION", 0.88))
    for m in _ORG_RE.finditer(text):
        s, e = _trim(text, m.start(), m.end())
        s, e = _strip_common_edges(text, s, e, False)
        value = text[s:e]
        toks = value.split()
        if len(toks) < 2 or not _boundary_ok(text, s, e) or not _valid_org(value):
            continue
        legal = bool(_ORG_LEGAL_END.search(value))
        names = [t for t in toks[:-1] if _tok_core(t) not in _PARTICLES and t != "&"]
        if not names or not all(_is_name_token(t) or (legal and t.isupper() and t.isalpha()) for t in names):
            continue
        if _tok_core(names[0]) in _COMMON or any(_tok_core(t) in _TECH for t in names):
            continue
        if not legal and any(_tok_core(t) in _COMMON for t in names):
            continue
        if legal:
            out.append((s, e, "ORGANIZATION", 0.85))
        elif not any(_tok_core(t) in _GENERIC_MOD for t in names):
            out.append((s, e, "ORGANIZATION", 0.7))
    for m in _RU_ORG.finditer(text):
        out.append((m.start(), m.end(), "ORGANIZATION", 0.85))
    for m in _CAPRUN.finditer(text):  # gazetteer: every 1..3-word window of a capitalised run
        run = m.group()
        offs = [(w.start(), w.end()) for w in re.finditer(r"\S+", run)]
        for i in range(len(offs)):
            for j in range(min(len(offs), i + 3) - 1, i - 1, -1):
                s, e = _trim(text, m.start() + offs[i][0], m.start() + offs[j][1])
                hit = _place_hit(text[s:e])
                if not hit or not _boundary_ok(text, s, e):
                    continue
                cue = any(w in _PLACE_CUES for w in _prev_words(text, s, 2))
                if hit == "strong":
                    out.append((s, e, "LOCATION", 0.8 if cue else 0.65))
                elif cue:
                    out.append((s, e, "LOCATION", 0.6))
                break
    return out


def rule_candidates(text: str, ents: list[tuple[int, int, str]]) -> list[Cand]:
    """Every rule candidate in `text`; `ents` are the model's raw entities (for ambiguous keys)."""
    out = _kv_candidates(text, ents)
    if "\t" in text or "|" in text or "," in text:
        out += _table_candidates(text, ents)
    if "INSERT" in text or "insert" in text:
        out += _sql_candidates(text, ents)
    out += _pattern_candidates(text)
    out += _person_cue_candidates(text)
    out += world_candidates(text)
    return out


def resolve(cands: list[Cand], types: frozenset[str]) -> list[tuple[int, int, str]]:
    """Keep candidates over their type's floor; on overlap the higher score (then longer) wins,
    except that a candidate holding whole the kept ones it overlaps, all of its own type, takes
    their place: the address "1600 Pennsylvania Ave NW, Washington, DC 20500" over the city in it."""
    keep: list[Cand] = []
    for c in sorted(cands, key=lambda c: (-c[3], c[0] - c[1], c[0])):
        s, e, t, score = c
        if t not in types or score < MIN_SCORE[t] or e <= s:
            continue
        hit = [k for k in keep if s < k[1] and e > k[0]]
        if hit and not all(k[2] == t and s <= k[0] and k[1] <= e for k in hit):
            continue
        keep = [k for k in keep if k not in hit]
        keep.append(c)
    return sorted((s, e, t) for s, e, t, _ in keep)
