"""The one host canonicalizer: the only name used for matching, cert minting, SNI, Host checks,
dialing and audit (DESIGN §6).

`canonical_host` maps a raw host to one spelling or refuses it:

- names: UTS-46 mapping (lower case, full-width forms, `。` as a dot, ignored code points such as
  the soft hyphen dropped), then IDNA2008 per label (`xn--` A-labels out; an `xn--` label in
  must decode and re-encode to itself), then exactly one trailing dot stripped;
- IPv4: only the canonical dotted quad. Any name whose last label is a number (`127.1`,
  `0x7f.0.0.1`, `0177.0.0.1`, `2130706433`, `example.123`) is refused as `odd_ip_spelling`: the
  WHATWG URL parser, inet_aton and curl read those as addresses, a policy would read them as names;
- IPv6: the compressed form from `ipaddress`, written without brackets (that is what SAN
  IPAddress, `getaddrinfo` and audit want; `format_authority` adds them back). IPv4-mapped and
  IPv4-compatible spellings (`::ffff:a.b.c.d`, `::a.b.c.d`) are refused: they name an IPv4 host.

`HostError.reason` is one of `HOST_ERROR_REASONS`, a bounded set fit for a metric label.
"""

from __future__ import annotations

import ipaddress
import re

import idna

__all__ = [
    "HOST_ERROR_REASONS",
    "MAX_HOST_INPUT",
    "HostError",
    "canonical_host",
    "format_authority",
    "is_ip",
    "parse_authority",
    "sni_matches",
]

# RFC 1035 §2.3.4: 255 octets on the wire = 253 characters in dotted text without the root dot.
MAX_NAME = 253
MAX_LABEL = 63
# Bounds the IDNA work before anything else runs; UTS-46 may drop ignored code points, so a raw
# name may be somewhat longer than its canonical form, never 4x. Go's net/http caps the Host header
# via its 1 MB header limit; we have a name, not a header, so 1 KiB is ample.
MAX_HOST_INPUT = 1024

HOST_ERROR_REASONS = (
    "empty",
    "empty_label",
    "too_long",
    "bad_character",
    "bad_label",
    "idna",
    "odd_ip_spelling",
    "bad_ipv6",
    "unbracketed_ipv6",
    "userinfo",
    "bad_port",
    "missing_port",
)


class HostError(ValueError):
    """A host or authority that has no canonical form; `reason` is from `HOST_ERROR_REASONS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Characters that separate or smuggle parts of a URL or a request in some parser. Checked on the
# raw input (clear reasons) and again after UTS-46 mapping, which turns e.g. U+FF0F into "/".
_FORBIDDEN = frozenset("%@/\\:?#[]*\"'<>^`{|}")
# After mapping, an ASCII label is LDH plus "_" (seen in real names; no parser splits on it).
_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# WHATWG "ends in a number": the last label is decimal digits or 0x-hex (even bare "0x").
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_DEC_OCTET = re.compile(r"0|[1-9][0-9]{0,2}")
_V6_CHARS = re.compile(r"[0-9A-Fa-f:.]+")
_PORT = re.compile(r"[0-9]{1,5}")


def _bad_char(c: str) -> bool:
    o = ord(c)
    return c in _FORBIDDEN or o <= 0x20 or 0x7F <= o <= 0x9F or c.isspace()


def canonical_host(raw: str) -> str:
    """The canonical spelling of a host (name, dotted-quad IPv4, `[v6]` or bare v6), or HostError."""
    if not isinstance(raw, str) or not raw:
        raise HostError("empty")
    if len(raw) > MAX_HOST_INPUT:
        raise HostError("too_long")
    if raw[0] == "[":
        if raw[-1] != "]":
            raise HostError("bad_ipv6")
        return _canonical_v6(raw[1:-1])
    if ":" in raw and _V6_CHARS.fullmatch(raw):
        return _canonical_v6(raw)  # a canonical v6 host stays canonical (idempotence)
    if any(_bad_char(c) for c in raw):
        raise HostError("bad_character")
    try:
        mapped = idna.uts46_remap(raw, std3_rules=False, transitional=False)
    except idna.IDNAError:
        raise HostError("idna") from None
    if any(_bad_char(c) for c in mapped):
        raise HostError("bad_character")
    labels = mapped.split(".")
    trailing_dot = len(labels) > 1 and labels[-1] == ""
    if trailing_dot:
        labels.pop()
    if not labels or labels == [""]:
        raise HostError("empty")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        if trailing_dot or len(labels) != 4 or not all(_DEC_OCTET.fullmatch(p) and int(p) <= 255 for p in labels):
            raise HostError("odd_ip_spelling")
        return ".".join(labels)
    out = [_canonical_label(label) for label in labels]
    name = ".".join(out)
    if len(name) > MAX_NAME:
        raise HostError("too_long")
    return name


def _canonical_label(label: str) -> str:
    if not label:
        raise HostError("empty_label")
    if label.isascii():
        if len(label) > MAX_LABEL:
            raise HostError("too_long")
        if not _ASCII_LABEL.fullmatch(label):
            raise HostError("bad_label")
        if label.startswith("xn--"):
            # A fake or non-canonical A-label would be a second spelling of some U-label.
            try:
                if idna.encode(idna.decode(label)).decode("ascii") != label:
                    raise HostError("idna")
            except idna.IDNAError:
                raise HostError("idna") from None
        return label
    try:
        alabel = idna.alabel(label).decode("ascii")
    except idna.IDNAError:
        raise HostError("idna") from None
    if len(alabel) > MAX_LABEL:
        raise HostError("too_long")
    return alabel


def _canonical_v6(inner: str) -> str:
    if not _V6_CHARS.fullmatch(inner):  # no zone ids ("%eth0"), no spaces
        raise HostError("bad_ipv6")
    try:
        addr = ipaddress.IPv6Address(inner)
    except ValueError:
        raise HostError("bad_ipv6") from None
    if addr.ipv4_mapped is not None:
        raise HostError("odd_ip_spelling")
    if int(addr) >> 32 == 0 and int(addr) > 1:  # ::a.b.c.d, IPv4-compatible (deprecated, RFC 4291 §2.5.5.1)
        raise HostError("odd_ip_spelling")
    return addr.compressed


def is_ip(host: str) -> bool:
    """True when a canonical host is an IP literal (bare or bracketed IPv6, dotted-quad IPv4)."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_authority(authority: str, default_port: int | None) -> tuple[str, int]:
    """`host[:port]` or `[v6][:port]` (CONNECT target, Host header) → (canonical host, port).

    `default_port=None` makes the port mandatory (CONNECT, RFC 9110 §9.3.6). Userinfo, CR/LF and
    spaces, bare IPv6, empty ports (`host:`), signs and leading zeros in ports are refused: each
    is a second spelling some parser reads differently.
    """
    if not isinstance(authority, str) or not authority:
        raise HostError("empty")
    if len(authority) > MAX_HOST_INPUT + 6:
        raise HostError("too_long")
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F or c.isspace() for c in authority):
        raise HostError("bad_character")
    if "@" in authority:
        raise HostError("userinfo")
    if authority[0] == "[":
        end = authority.find("]")
        if end < 0:
            raise HostError("bad_ipv6")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest and rest[0] != ":":
            raise HostError("bad_ipv6")
        port_text = rest[1:] if rest else None
    else:
        if authority.count(":") > 1:
            raise HostError("unbracketed_ipv6")
        host, colon, port_text_ = authority.partition(":")
        port_text = port_text_ if colon else None
    if port_text is None:
        if default_port is None:
            raise HostError("missing_port")
        port = default_port
    else:
        if not _PORT.fullmatch(port_text) or (len(port_text) > 1 and port_text[0] == "0"):
            raise HostError("bad_port")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise HostError("bad_port")
    return canonical_host(host), port


def format_authority(host: str, port: int | None = None) -> str:
    """A canonical host back in authority form (`[v6]` bracketed), for Host headers and URLs."""
    h = f"[{host}]" if ":" in host else host
    return h if port is None else f"{h}:{port}"


def sni_matches(connect_host: str, sni: str | None) -> tuple[bool, str]:
    """Does a ClientHello's server_name agree with the (canonical) CONNECT host?

    No SNI is fine only for IP hosts (RFC 6066 §3 forbids literal addresses in SNI); otherwise
    the canonical SNI must equal the host, which refuses domain fronting through an allowed name.
    """
    if sni is None or sni == "":
        return (True, "sni_absent_ip") if is_ip(connect_host) else (False, "sni_missing")
    # Some clients send the authority, not the name (hey 0.1.4 copies req.Host, "name:port", into
    # tls.Config.ServerName). RFC 6066 wants the bare name, but the same name with a port is not fronting.
    name_part, sep, port = sni.rpartition(":")
    if sep and port.isdigit() and ":" not in name_part:
        sni = name_part
    try:
        name = canonical_host(sni)
    except HostError as e:
        return False, f"sni_bad:{e.reason}"
    return (True, "sni_ok") if name == connect_host else (False, "sni_mismatch")
