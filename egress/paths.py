"""Request targets → the one path spelling policies match on (DESIGN §6).

An allow-list is only as good as the agreement between what the proxy matched and what the
upstream serves. `normalize_path` therefore reduces a target at least as far as common servers
do, and refuses what servers disagree on:

- origin-form only (`/…`); `*`, absolute-form and anything else is `not_origin_form`
  (`split_absolute_form` turns a plain-HTTP proxy request into authority + origin-form first);
- the query is cut off before matching (`split_target` / `query_of` keep it); a `#` is refused;
- raw bytes must be visible ASCII: NUL, CR, LF, other controls, space and non-ASCII are refused,
  and so is a raw `\\` (IIS, Windows servers and some frameworks read it as `/`);
- percent escapes: unreserved characters are decoded (`%61` → `a`, `%2e` → `.`; RFC 3986 §6.2.2.2),
  other escapes are kept with upper-case hex (§6.2.2.1). `%2F` and `%5C` are REFUSED
  (`encoded_slash`) rather than decoded: some upstreams split on them and some do not, so either
  decision would disagree with one of them (Tomcat refuses them for the same reason, Spring's
  StrictHttpFirewall too). The cost: APIs that put `a%2Fb` in one segment (GitLab project paths)
  need the numeric id form. Escaped controls (`%00` to `%1F`, `%7F`) are `encoded_control`; `%25`
  followed by two hex digits is `double_encoding` (an upstream that decodes twice sees an escape
  we never checked). Malformed escapes are `bad_percent`;
- path parameters: everything from a raw `;` to the end of its segment is dropped (`/admin;x=1/`
  → `/admin/`, `/..;/` → `/../`), as Tomcat, Jetty and Spring do before routing. An escaped `%3B`
  stays a literal part of its segment;
- `.` and `..` segments are resolved after decoding (RFC 3986 §5.2.4), never above the root;
- empty segments are collapsed (`//a` → `/a`; `//evil.example/x` is a network-path reference to
  some URL parsers); a trailing slash is kept, it is a different resource to many servers.

The proxy should forward `normalize_target(target)` upstream, so the upstream is asked exactly
what was matched (this drops `;` parameters: matrix-URI APIs then need an explicit decision).
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_TARGET",
    "PATH_ERROR_REASONS",
    "PathError",
    "merges_segments",
    "normalize_path",
    "normalize_target",
    "query_of",
    "split_absolute_form",
    "split_target",
]

# 8 KiB request-target, as Apache's LimitRequestLine (8190) and nginx's default
# large_client_header_buffers (8k); node.js allows 16 KiB for the whole header block.
MAX_TARGET = 8192

PATH_ERROR_REASONS = (
    "empty",
    "too_long",
    "not_origin_form",
    "bad_character",
    "backslash",
    "fragment",
    "bad_percent",
    "encoded_slash",
    "encoded_control",
    "double_encoding",
    "bad_scheme",
    "userinfo",
    "bad_authority",
)


class PathError(ValueError):
    """A target with no canonical path; `reason` is from `PATH_ERROR_REASONS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")
_VISIBLE = re.compile(r"[\x21-\x7e]*")


def _check_chars(text: str) -> None:
    if not _VISIBLE.fullmatch(text):
        raise PathError("bad_character")
    if "#" in text:
        raise PathError("fragment")
    if "\\" in text:
        raise PathError("backslash")


def split_target(target: str) -> tuple[str, str | None]:
    """Validate an origin-form target; (raw path, raw query or None when there is no `?`)."""
    if not isinstance(target, str) or not target:
        raise PathError("empty")
    if len(target) > MAX_TARGET:
        raise PathError("too_long")
    _check_chars(target)
    if target[0] != "/":
        raise PathError("not_origin_form")
    path, q, query = target.partition("?")
    return path, (query if q else None)


def query_of(target: str) -> str | None:
    """The raw query of a valid origin-form target (None when there is no `?`)."""
    return split_target(target)[1]


def _normalize_segment(seg: str) -> str:
    seg = seg.split(";", 1)[0]
    if "%" not in seg:
        return seg
    out: list[str] = []
    i, n = 0, len(seg)
    while i < n:
        c = seg[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        if i + 2 >= n or seg[i + 1] not in _HEX or seg[i + 2] not in _HEX:
            raise PathError("bad_percent")
        hx = seg[i + 1 : i + 3]
        b = int(hx, 16)
        if b in (0x2F, 0x5C):
            raise PathError("encoded_slash")
        if b < 0x20 or b == 0x7F:
            raise PathError("encoded_control")
        if b == 0x25 and len(seg) >= i + 5 and seg[i + 3] in _HEX and seg[i + 4] in _HEX:
            raise PathError("double_encoding")
        out.append(chr(b) if b in _UNRESERVED else "%" + hx.upper())
        i += 3
    return "".join(out)


def _resolve(path: str) -> str:
    # Most paths are canonical already: nothing to decode, no parameters, no empty, `.` or `..`
    # segment ("/." also catches "/.well-known": that one takes the long way, correctly).
    if "%" not in path and ";" not in path and "//" not in path and "/." not in path:
        return path
    segs = path[1:].split("/")
    out: list[str] = []
    trailing = False
    last = len(segs) - 1
    for i, raw in enumerate(segs):
        seg = _normalize_segment(raw)
        if seg in ("", ".", ".."):
            if seg == ".." and out:
                out.pop()
            trailing = i == last  # "/a/", "/a/." and "/a/b/.." all end in a slash
            continue
        out.append(seg)
        trailing = False
    if not out:
        return "/"
    return "/" + "/".join(out) + ("/" if trailing else "")


_DOT_SEGMENT = re.compile(r"(?:\.|%2[eE]){1,2}")


def merges_segments(target: str) -> bool:
    """Would `normalize_target` drop or merge segments of this valid target (`.`, `..` or empty
    ones, `;` parameters), rather than only re-spell escapes? Upstreams whose paths are names,
    not routes (S3 object keys), would then be asked for another object."""
    path, _ = split_target(target)
    if ";" in path:
        return True
    segs = path[1:].split("/")
    return "" in segs[:-1] or any(_DOT_SEGMENT.fullmatch(s) for s in segs)


def normalize_path(target: str) -> str:
    """The canonical path of an origin-form target (query dropped), or PathError."""
    path, _ = split_target(target)
    return _resolve(path)


def normalize_target(target: str) -> str:
    """Canonical path plus the raw query: what the proxy should send upstream."""
    path, query = split_target(target)
    norm = _resolve(path)
    return norm if query is None else f"{norm}?{query}"


def split_absolute_form(target: str) -> tuple[str, str, str]:
    """`http://authority/path?q` (a plain-HTTP proxy request) → (scheme, authority, origin-form).

    The scheme is lower-cased and must be http or https; userinfo is refused (it has no place in
    a request target, RFC 9110 §4.2.4); an empty path becomes `/`. The authority is returned raw
    for `hosts.parse_authority`; the origin-form is returned raw for `normalize_path`.
    """
    if not isinstance(target, str) or not target:
        raise PathError("empty")
    if len(target) > MAX_TARGET:
        raise PathError("too_long")
    _check_chars(target)
    scheme, sep, rest = target.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise PathError("bad_scheme")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        raise PathError("userinfo")
    if not authority:
        raise PathError("bad_authority")
    if not tail.startswith("/"):
        tail = "/" + tail
    return scheme, authority, tail
