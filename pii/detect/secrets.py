"""Secrets: private keys, JWTs, AWS keys, connection strings with credentials, provider tokens
(pii/secret_rules.py) and values assigned to a credential's name in any syntax."""

from __future__ import annotations

import base64
import binascii
import json
import re

from pii import checksums as ck
from pii import patterns as pt
from pii import secret_rules as sr
from pii.detect.document import (
    _GENERIC_PRIO,
    _PRIO,
    _Cand,
    _Doc,
    _find_all,
    _has_digit,
    _labelled,
    _line_of,
    _norm,
    _strip_trailing,
)

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
        out.append((m.start(), end, "PRIVATE_KEY", _PRIO["PRIVATE_KEY"]))


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
        head, payload, sig = m.group().split(".", 2)
        header = _b64url_json(head)
        # A header that decodes with "alg", or, failing that, the full shape (two JSON-looking parts
        # and a signature): a token with a damaged header is still one.
        shaped = payload.startswith("eyJ") and len(head) >= 17 and len(payload) >= 17 and len(sig) >= 10
        if (isinstance(header, dict) and "alg" in header) or shaped:
            out.append((s, m.end(), "JWT", _PRIO["JWT"]))


def _aws_access_keys(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    text = doc.text
    if "A" not in text:
        return
    for m in pt.AWS_ACCESS_KEY.finditer(text):
        s = m.start()
        if (s and text[s - 1].isalnum()) or _degenerate(m.group()[4:]):
            continue  # AWS's own documentation key (…EXAMPLE) is kept: a key's shape is enough
        out.append((s, m.end(), "AWS_ACCESS_KEY", _PRIO["AWS_ACCESS_KEY"]))


def _mixed_case_digits(v: str) -> bool:
    return v.upper() != v and v.lower() != v and _has_digit(v)


def _aws_secret_keys(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    gate = doc.hits("aws")
    if not gate:
        return
    text = doc.text
    for rs, re_ in doc.regions(gate):
        for m in pt.AWS_SECRET_VALUE.finditer(text, rs, re_):
            v = m.group()
            # The 40-character shape under an AWS secret's label is the key whatever its wording:
            # AWS's own documentation key (`wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`) is masked too.
            if not _mixed_case_digits(v) or _degenerate(v) or _placeholder_credential(v):
                continue
            if _labelled(doc, m.start(), m.end(), pt.AWS_SECRET_LABEL, gate, nearest=False):
                out.append((m.start(), m.end(), "AWS_SECRET_KEY", _PRIO["AWS_SECRET_KEY"]))


# --- connection strings --------------------------------------------------------------------

_PLACEHOLDER_PASSWORDS = frozenset(
    {"password", "pass", "passwd", "pwd", "secret", "changeme", "pw", "xxx", "xxxx", "redacted", "mask", "masked"}
    | {"none", "null", "nil", "undefined", "empty", "true", "false", "password1", "password123", "secret123", "hunter2"}
)
_PLACEHOLDER_CRED = re.compile(r"\$\{|\{\{|<|>|\[|\]|%\(|\*{3,}|x{4,}|X{4,}|•|\.\.\.")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def _placeholder_credential(v: str) -> bool:
    v = v.strip()
    if not v or v.lower() in _PLACEHOLDER_PASSWORDS or v.startswith("$"):
        return True
    return bool(_PLACEHOLDER_CRED.search(v))


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
                    out.append((j, _strip_trailing(text, j, m.end()), "CONNECTION_STRING", prio))
                    continue
            if password_word:
                m = pt.URL_PASSWORD_QUERY.match(text, j)
                q = pt.QUERY_PASSWORD.search(m.group()) if m else None
                if m and q and not _placeholder_credential(q.group(1)):
                    e = _strip_trailing(text, j, m.end(), ".,:!?)]}'\"`>")
                    out.append((j, e, "CONNECTION_STRING", prio))
    if not password_word and "accountkey" not in low and "sharedaccess" not in low:
        return
    if "jdbc:" in low:
        for j in _find_all(low, "jdbc:"):
            m = pt.URL_PASSWORD_QUERY.match(text, j)
            q = pt.QUERY_PASSWORD.search(m.group()) if m else None
            if m and q and not _placeholder_credential(q.group(1)):
                out.append((j, _strip_trailing(text, j, m.end(), ".,:!?)]}'\"`>"), "CONNECTION_STRING", prio))
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
                        out.append((m.start(), e, "CONNECTION_STRING", prio))
            if key == "password=" and ("host=" in low or "dbname=" in low):
                for m in pt.LIBPQ_CONN.finditer(text, ls, le):
                    pw = _LIBPQ_PASSWORD.search(m.group())
                    if pw and not _placeholder_credential(pw.group(1).strip("'\",;)")):
                        out.append((m.start(), m.end(), "CONNECTION_STRING", prio))


_LIBPQ_PASSWORD = re.compile(r"password=(\S+)")

# A signed URL's signature grants access until it expires: Azure SAS (`sv=…&sig=`), S3 and GCS
# presigned URLs (`X-Amz-Signature`, `X-Goog-Signature`), CloudFront (`Signature=` with `Key-Pair-Id`).
_URL_SIGNATURE = re.compile(r"[?&](?:sig|X-Amz-Signature|X-Goog-Signature|Signature)=([\w%+/=.~-]{16,})")
_SIGNED_BY = ("sv=", "x-amz-credential=", "x-goog-credential=", "key-pair-id=")
_URL_END = re.compile(r"[\s'\"`<>]")


def _signed_urls(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    low = doc.low
    if "sig=" not in low and "signature=" not in low:
        return
    text = doc.text
    end = -1
    for m in _URL_SIGNATURE.finditer(text):
        q = text.rfind("?", max(0, m.start() - 2048), m.start() + 1)
        if end < m.end():  # the URL runs on to the next break (CloudFront puts Key-Pair-Id last)
            brk = _URL_END.search(text, m.end())
            end = brk.start() if brk else len(text)
        query = low[q : min(end, m.end() + 2048)] if q >= 0 else ""
        if any(k in query for k in _SIGNED_BY) and not _placeholder_credential(m.group(1)):
            out.append((m.start(1), m.end(1), "API_KEY", _PRIO["API_KEY"]))


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
            if family in sr.URL_FAMILIES:
                s = _url_start(text, s)  # the host's subdomain and scheme are part of the URL
            elif s and (text[s - 1].isalnum() or text[s - 1] in "_-"):
                continue  # inside a longer identifier: task-…, mask_…
            if e < n and (text[e].isalnum() or text[e] == "_"):
                continue
            if _degenerate(m.group()[offset + len(lit) :] or m.group()):
                continue
            body = m.group()
            if family in sr.WEAK_FAMILIES and (not _has_digit(body) or _identifier(body)):
                continue
            if family in sr.NAMELIKE_FAMILIES and _identifier(body):
                continue
            out.append((s, e, sr.TYPE_OF_FAMILY.get(family, "API_KEY"), prio))
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
                out.append((s, m.end(), "API_KEY", prio))
    if "facebook" in low:
        for m in sr.FACEBOOK_APP_TOKEN.finditer(text):
            out.append((m.start(), m.end(), "API_KEY", prio))
    if ".acc" in text:
        for m in sr.AUTHRESS.finditer(text):
            out.append((m.start(), m.end(), "API_KEY", prio))
    if "contribsys" in low:
        for m in sr.SIDEKIQ.finditer(text):
            out.append((m.start(1), m.end(1), "API_KEY", prio))
    if "curl" in low:
        for m in sr.CURL_USER.finditer(text):
            if _curl_credential(m.group("cred")):
                out.append((m.start("cred"), m.end("cred"), "API_KEY", prio))
        for m in sr.CURL_HEADER.finditer(text):
            v = m.group("v")
            if not (_placeholder_credential(v) or pt.placeholder_hint(v) or _degenerate(v) or v.startswith("$")):
                out.append((m.start("v"), m.end("v"), "API_KEY", prio))
    if "live_" in text or "test_" in text:
        for m in sr.LOB.finditer(text):
            if not (m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_")):
                out.append((m.start(), m.end(), "API_KEY", prio))


# Passwords that curl examples use as stand-ins (`-u user:pass`, `-u test:test`).
_CURL_STAND_INS = frozenset({"test", "pass", "password", "pwd", "token", "secret", "changeit", "changeme"})


def _curl_credential(cred: str) -> bool:
    """`user:password` from `curl -u` with its quotes taken off each part: a real password, or, with
    the password left empty (curl then prompts), a user part that is itself a random secret."""
    plain = cred.replace('"', "").replace("'", "")
    user, _, pw = plain.partition(":")
    if not pw:
        return len(user) >= 8 and _secret_value_ok(user, True)
    if len(pw) < 3 or pw.lower() in _CURL_STAND_INS or _degenerate(pw):
        return False
    return not (_placeholder_credential(pw) or pt.placeholder_hint(plain) or pw.startswith(("$", "{{")))


def _is_cursor(v: str) -> bool:
    """base64 of a JSON object that is not a JWT: a pagination cursor (`eyJvZmZzZXQiOjE5MTR9`)."""
    return v.startswith("eyJ") and v.count(".") != 2


# Dotted identifier chains are code (self._creds, base64.b64decode, ed25519.Ed25519PrivateKey,
# settings.SECRET_KEY); a random part (`nQdygp_c4C2ENoOK.VynJx72e`, `t1.LuLolPa7…`) makes it a token.
_CODE_EXPR = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def _code_expr(v: str) -> bool:
    return _CODE_EXPR.fullmatch(v) is not None and not any(_random_part(p) for p in v.split("."))


def _random_part(part: str) -> bool:
    """A dotted part that no one would name: long, and letters and digits switching back and forth
    (`c4C2ENo`), or letters that read as no word."""
    return len(part) >= 12 and (_scrappy(part) or _gibberish(part))


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
_CONSONANT_RUN = re.compile(r"[b-df-hj-np-tv-xz]{5}")


_PIECE_SEPS = re.compile(r"[_-]")


def _scrappy(v: str) -> bool:
    """Mixed case whose humps are mostly scraps (no vowel, or under three letters): `suPzqzUPdiCrlF`,
    `PNo274bfCDrjNr`; a name's humps are words (`getAccessToken`, `XMLHttpRequest`)."""
    segs = [g for g in _IDENT_SEGMENTS.findall(v) if not g.isdigit()]
    scraps = sum(1 for g in segs if len(g) < 3 or not _VOWELS & set(g))
    return scraps >= 3 and 2 * scraps >= len(segs)


def _gibberish(v: str) -> bool:
    """Letters that read as no word in any case style: a random draw from a key's alphabet
    (`xmjnhxhfxwtglfjw`, `suPzqzUPdiCrlF`), not a name (`passwordResetTemplate`, `releasemanager`).
    Mixed case: most camelCase humps are scraps without a vowel or shorter than a syllable. One
    case: five consonants in a row, or hardly any vowels; English spelling has neither."""
    if not v.isascii():
        return False
    if not v.isalpha():  # kebab or snake pieces: one long random piece is enough (`B-tZAZtcmsvoLM…-Sn`)
        pieces = _PIECE_SEPS.split(v)
        return all(p.isalpha() for p in pieces if p) and any(len(p) >= 12 and _gibberish(p) for p in pieces)
    if not v.islower() and not v.isupper():
        return _scrappy(v)
    low = v.lower()
    return _CONSONANT_RUN.search(low) is not None or 4 * sum(c in _VOWELS for c in low) < len(low)


def _secret_value_ok(v: str, password: bool) -> bool:
    if pt.UUID.fullmatch(v) or pt.ULID.fullmatch(v) or _is_cursor(v) or "://" in v or _ISO_TS.fullmatch(v):
        return False
    if _STRIPE_OBJECT.fullmatch(v):
        return False
    if _placeholder_credential(v) or pt.placeholder_hint(v):
        return False
    if pt.ENV_REFERENCE.fullmatch(v):
        return False
    if len(v) >= 16 and not password and _gibberish(v):
        return ck.shannon_entropy(v) >= 3.0  # letters only, but a random draw (`PnsOeESEbjTcRhap…`)
    if pt.WORDY.fullmatch(v) or v.isdigit() or _identifier(v):
        return False
    if "/" in v and pt.PATHLIKE.fullmatch(v) and not _mixed_case_digits(v.replace("/", "")):
        return False
    if v.startswith(("-----", "data:")) or _code_expr(v):
        return False
    if "@" in v and "." in v.rsplit("@", 1)[-1]:
        return False  # an email address is the email detector's
    digit = _has_digit(v)
    if password:  # character classes: lower, upper, digit, other (str methods run in C)
        classes = (v.upper() != v) + (v.lower() != v) + digit + (not v.isalnum())
        return len(v) >= 8 and classes >= 2 and ck.shannon_entropy(v) >= 2.5
    if len(v) < 16 or not digit or v.upper() == v.lower():
        return False  # no digit, or no letter
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
    return _norm(m.group(1)).replace(" ", "") if m else ""  # [message_bird] names messagebird


_HEX = re.compile(r"[0-9a-fA-F]+")  # a bare hex run in prose is a commit or a hash far more often
_HEX_PAIR = re.compile(r"[a-fA-F0-9]{8}:[a-fA-F0-9]{8}")  # Sidekiq Enterprise credentials


def _provider_value_ok(v: str) -> bool:
    """A value next to a provider's name: its ids and keys come in shapes a generic entropy filter
    refuses (UUIDs, 16-18 digit ids, 14-character keys). Placeholders and code still do not count."""
    if _placeholder_credential(v) or pt.placeholder_hint(v) or pt.ENV_REFERENCE.fullmatch(v):
        return False
    if pt.UUID.fullmatch(v) or _HEX_PAIR.fullmatch(v):
        return True
    if v.isdigit():
        return 14 <= len(v) <= 20
    if len(v) < 14 or ":" in v or "://" in v or "@" in v or _ISO_TS.fullmatch(v):
        return False
    if _gibberish(v):
        return True  # letters only, 14+ of them, reading as no word: a key drawn from letters
    if pt.WORDY.fullmatch(v) or _identifier(v) or _code_expr(v) or pt.PATHLIKE.fullmatch(v):
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
        if w.startswith(("secret", "credential", "bearer", *_PASSWORD_PREFIXES)) or w == "dbpwd":
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


# Words a password key is set to that are no password: types, schema words, settings.
_PASSWORD_WORDS = frozenset(
    {
        "string", "str", "text", "required", "optional", "hidden", "disabled", "enabled", "hashed", "plaintext",
        "bcrypt", "argon2", "scrypt", "sha256", "random", "generated", "prompt", "ask", "env", "file", "vault",
        "unset", "default", "invalid", "incorrect", "wrong", "expired", "missing", "strong", "weak", "same",
    }
)  # fmt: skip


def _yaml_reference(v: str) -> bool:
    """A YAML tag, anchor or alias in the value's place (`!vault`, `*default_pw`, `&pw`): a name
    in lower case after the sigil, where a password starting with `!` would be mixed (`!Qaz2wsx`)."""
    rest = v[1:].replace("_", "").replace("-", "")
    return v[:1] in ("!", "*", "&") and rest.isalpha() and rest.islower()


_PASSWORD_PREFIXES = ("passw", "pw", "passphrase", "passcode")
_KEBAB = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+")
# A quoted passphrase of words after a password's name (`"correct horse battery staple"`,
# `passphrase: 'blue elephant dancing slowly'`), up to the quote that opened it.
_QUOTED_PHRASE = re.compile(
    r"(?:\\*[\"'`])?\]?[ \t]*(?:=>|:{0,3}=|:|(?:is|was)(?=[ \t]))?[ \t]*([\"'`])((?:[^\s\"'`\\]+ ){1,9}[^\s\"'`\\]+)\1"
)


# Words of a sentence, not of a passphrase: a quoted phrase under a password key with one of them
# is a message about the password (`"password": "must be at least 12 characters"`).
_SENTENCE_WORDS = frozenset(
    {
        "a", "an", "the", "is", "are", "be", "been", "was", "were", "to", "of", "at", "in", "on", "by", "not", "no",
        "must", "should", "can", "cannot", "could", "will", "would", "may", "do", "does", "did", "has", "have", "your",
        "you", "my", "our", "this", "that", "these", "and", "or", "for", "with", "than", "least", "more", "please",
        "enter", "forgot", "reset", "change", "confirm", "new", "old", "current", "invalid", "incorrect", "wrong",
        "too", "short", "long", "weak", "strong", "required", "field", "digit", "digits", "code", "try", "again",
        "characters", "letters", "number", "symbol", "minimum", "maximum", "length", "match", "mismatch", "hint",
        "label", "show", "hide", "create", "choose", "type", "here", "mot", "de", "passe", "kata", "sandi", "mật",
        "khẩu", "contraseña", "passwort", "senha", "wachtwoord", "lösenord", "adgangskode", "hasło", "heslo",
        "parola", "şifre", "sifre", "salasana", "jelszó",
    }
)  # fmt: skip


def _passphrase(v: str) -> bool:
    """Words joined by spaces that read as a passphrase, not as a sentence about a password."""
    words = v.lower().split()
    if v[-1] in ".?!:" or "," in v or any(w.startswith(_PASSWORD_PREFIXES) for w in words):
        return False
    return not _SENTENCE_WORDS.intersection(words)


def _names_password(words: list[str]) -> bool:
    """The key ends in the password itself (`administrator_login_password`, `DB_PWD`, `GPG_PASSPHRASE`),
    not in something about it (`password_reset_template`, `password_hash`)."""
    return bool(words) and words[-1].startswith(_PASSWORD_PREFIXES) and not pt.SECRET_NAME_DENY.search(" ".join(words))


def _assigned_password(text: str, name_end: int, vs: int, ve: int) -> bool:
    """A literal given to a password key (`password = "rootpasswd"`, `DB_PASSWORD=thisIsDog11`,
    `PASSPHRASE=correct-horse-battery-staple`) is the password whatever its wording, and so is a
    quoted one in prose ("use passphrase 'orange lamp river stone'"); otherwise in prose ("the
    password is incorrect") the strict test holds, except for a passphrase of three or more
    hyphenated words. Unquoted, a name-shaped value (`user_password`, `cfg.db.pass`) is a reference,
    not a literal; but no variable's name has hyphens in it."""
    v = text[vs:ve]
    if len(v) < 6 or len(v) > 64 or v.lower() in _PASSWORD_WORDS or _placeholder_credential(v):
        return False
    if pt.placeholder_hint(v) or pt.ENV_REFERENCE.fullmatch(v) or "://" in v or _code_expr(v):
        return False
    if pt.PATHLIKE.fullmatch(v):
        return False
    if text[vs - 1] in "\"'`":  # the whole quoted literal, not the first word of a sentence in quotes
        return _passphrase(v) if " " in v else text[ve : ve + 1] != " "
    kebab = _KEBAB.fullmatch(v) is not None
    if not any(c in text[name_end:vs] for c in "=:(,>"):
        return kebab and v.count("-") >= 2
    return kebab or not (_identifier(v) or (pt.WORDY.fullmatch(v) and not v.isalpha()))


_LETTERS_ONLY_GATE = ("token", "key", "secret", "pass", "pwd", "auth", "cred", "bearer")


def _generic_secrets(doc: _Doc, want: frozenset[str], out: list[_Cand]) -> None:
    """Values assigned to a credential's name, in any syntax (pt.SECRET_VALUE). A name with a
    provider's word in it (`telegram_bot_token`, `discord_client_id`, `BUNDLE_GEMS__CONTRIBSYS__COM`)
    takes that provider's value shapes too: UUIDs, long digit ids, short keys."""
    text = doc.text
    digit = _has_digit(text)
    if not digit and not any(w in doc.low for w in _LETTERS_ONLY_GATE):
        return  # without a digit only a letters-only key can be here, and only under a secret's name
    last_name_end = -1
    for p in doc.hits("secret"):
        if p < last_name_end:
            continue
        tail = pt.SECRET_NAME_TAIL.match(text, p)
        name_end = tail.end() if tail else p
        last_name_end = name_end
        val = pt.SECRET_VALUE.match(text, name_end)
        # A phrase is looked for only where the value regex found nothing or stopped at a space.
        spaced = val is None or text[val.end(2) : val.end(2) + 1] == " "
        phrase = _QUOTED_PHRASE.match(text, name_end) if spaced else None
        if val is None and phrase is None:
            continue
        head = p  # cheapest checks first: most keyword hits have no value after them
        while head > 0 and p - head < 40 and (text[head - 1].isalnum() or text[head - 1] in "_.-$"):
            head -= 1
        words = _norm(text[head:name_end]).split()
        # The provider may also be named by the section the key sits in ([heroku] token = …) or
        # just before the key in prose ("the discord token we use: …").
        context = _section_name(text, head) + doc.low[max(0, head - 24) : head]
        provider = _names_provider("".join(words) + " " + context) and not pt.PROVIDER_NAME_DENY.search(" ".join(words))
        # An OAuth client or app id with a long random value is treated as a credential (scanners do).
        client_id = not provider and ("clientid" in "".join(words) or "appid" in "".join(words))
        if not provider and not client_id:
            if not _secret_name_ok(words):
                continue
            if pt.SECRET_NAME_DENY.search(" ".join(words)) and not any(
                w.startswith(("secret", "passw")) for w in words
            ):
                continue
        if phrase is not None and _names_password(words) and _assigned_password(text, name_end, *phrase.span(2)):
            out.append((*phrase.span(2), "API_KEY", _GENERIC_PRIO))  # words only the password's rule may take
            last_name_end = phrase.end(2)
            continue
        if val is None:
            continue
        vs, vend = val.span(2)
        if head and text[head - 1] in "?&" and (amp := text.find("&", vs, vend)) > vs:
            vend = amp  # a URL's query parameter ends at the next one (`?token=…&user=42`)
        if vend < len(text) and text[vend] in "([":
            continue  # a call or subscript: code, not a literal
        ve = _strip_trailing(text, vs, vend)
        v = text[vs:ve]
        if _yaml_reference(v):
            continue
        if client_id and (len(v) < 24 or not _secret_value_ok(v, False)):
            continue
        if (
            (val is not None and val.group(1) and _basic_credentials(v))
            or _secret_value_ok(v, any(w.startswith(_PASSWORD_PREFIXES) for w in words))
            or (provider and _provider_value_ok(v))
            or (_names_password(words) and _assigned_password(text, name_end, vs, ve))
        ):
            out.append((vs, ve, "API_KEY", _GENERIC_PRIO))
            last_name_end = ve
    if not digit:
        return  # a bare token in a sentence is taken only when it holds a digit
    rate = set(doc.hits("rate"))
    for p in sorted(rate.union(doc.hits("use"))):
        # The sentence around the phrase: back to the previous sentence end, on to the next one.
        lo = max(0, p - 240)
        ends = [m.end() for m in pt.SENTENCE_END.finditer(text, lo, p)]
        s0 = ends[-1] if ends else lo
        nxt = pt.SENTENCE_END.search(text, p, min(len(text), p + 160))
        s1 = nxt.start() if nxt else min(len(text), p + 160)
        for m in pt.SENTENCE_TOKEN.finditer(text, s0, s1):
            v = m.group()
            if _HEX.fullmatch(v) and p not in rate:
                continue  # "use commit 9fceb02… for staging"
            if _secret_value_ok(v, False) and not _STRIPE_OBJECT.fullmatch(v):
                out.append((m.start(), m.end(), "API_KEY", _GENERIC_PRIO))
