"""Sans-IO ClientHello reader for tunnel mode (DESIGN §6: "the ClientHello's SNI must equal the
CONNECT host; no domain fronting through an allowed name").

Feed it the first bytes the client sends inside the tunnel, growing: `parse_client_hello(buf)`
returns a `ClientHello` whose `complete` is False while more bytes are needed, and True once the
whole handshake message is in (`error` None) or the bytes cannot be one (`error` a bounded
reason such as `hello_not_tls`). Bounded: an incomplete hello never needs more than
`MAX_CLIENT_HELLO` plus record headers. The bytes are relayed upstream unchanged afterwards;
nothing is decrypted. `vet_client_hello` is the decision (SNI = CONNECT host, no ECH).

Encrypted Client Hello (RFC 9849, extension 0xfe0d) is refused by default: the outer SNI would
match the CONNECT host while the encrypted inner one names any site behind the same front (the
fronting this check exists to stop). Browsers send a GREASE ECH extension that cannot be told
apart from a real one, so a Chromium in a sandbox needs `allow_ech=True` on its rule, knowingly.
"""

from __future__ import annotations

from dataclasses import dataclass

from egress.hosts import sni_matches

__all__ = ["MAX_CLIENT_HELLO", "ClientHello", "parse_client_hello", "vet_client_hello"]

# Go's crypto/tls caps a handshake message at 64 KiB (maxHandshake); a post-quantum ClientHello
# (X25519MLKEM768 key share) is about 1.8 KiB.
MAX_CLIENT_HELLO = 65536
_MAX_RECORD = 16384 + 256  # RFC 8446 §5.1: 2^14 plaintext; some stacks add a little slack
_EXT_SERVER_NAME = 0
_EXT_ALPN = 16
_EXT_ECH = 0xFE0D


class HelloError(ValueError):
    """Not a well-formed TLS ClientHello (internal; surfaces as `ClientHello.error`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ClientHello:
    complete: bool  # a verdict is possible: the whole hello is in, or `error` is set
    error: str | None = None  # "hello_<reason>": not_tls, bad_record, not_client_hello, too_long, malformed,
    # duplicate_extension, bad_sni
    sni: str | None = None  # the host_name as sent (ASCII), None when absent
    alpn: tuple[str, ...] = ()
    ech: bool = False  # an encrypted_client_hello extension is present (real or GREASE)
    size: int = 0  # bytes of the records that carried it


_INCOMPLETE = ClientHello(False)


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise HelloError("malformed")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vec(self, len_bytes: int) -> bytes:
        return self.take(self.uint(len_bytes))

    def done(self) -> bool:
        return self.pos == len(self.buf)


def _handshake_bytes(buf: bytes) -> tuple[bytes, int] | None:
    """Reassemble the first handshake message from TLS records; None until it is complete."""
    body = bytearray()
    pos = 0
    while True:
        if len(buf) - pos < 5:
            return None
        ctype, major, length = buf[pos], buf[pos + 1], int.from_bytes(buf[pos + 3 : pos + 5], "big")
        if ctype != 22 or major != 3:
            raise HelloError("not_tls")
        if length == 0 or length > _MAX_RECORD:
            raise HelloError("bad_record")
        if len(buf) - pos - 5 < length:
            return None
        body += buf[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if len(body) >= 4:
            if body[0] != 1:
                raise HelloError("not_client_hello")
            need = 4 + int.from_bytes(body[1:4], "big")
            if need > MAX_CLIENT_HELLO:
                raise HelloError("too_long")
            if len(body) >= need:
                if len(body) > need:  # another handshake message before ServerHello: not a client
                    raise HelloError("malformed")
                return bytes(body[4:need]), pos


def parse_client_hello(buf: bytes) -> ClientHello:
    """Parse the client's first bytes; see the module docstring for the three outcomes."""
    try:
        return _parse(buf)
    except HelloError as e:
        return ClientHello(True, f"hello_{e.reason}")


def _parse(buf: bytes) -> ClientHello:
    found = _handshake_bytes(buf)
    if found is None:
        return _INCOMPLETE
    body, size = found
    r = _Reader(body)
    r.take(2 + 32)  # legacy_version, random
    if len(r.vec(1)) > 32:
        raise HelloError("malformed")
    suites = r.vec(2)
    if not suites or len(suites) % 2:
        raise HelloError("malformed")
    if not r.vec(1):
        raise HelloError("malformed")
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    ech = False
    if not r.done():
        exts = _Reader(r.vec(2))
        if not r.done():
            raise HelloError("malformed")
        seen: set[int] = set()
        while not exts.done():
            etype, data = exts.uint(2), exts.vec(2)
            if etype in seen:
                raise HelloError("duplicate_extension")  # RFC 8446 §4.2
            seen.add(etype)
            if etype == _EXT_SERVER_NAME:
                sni = _server_name(data)
            elif etype == _EXT_ALPN:
                alpn = _alpn(data)
            elif etype == _EXT_ECH:
                ech = True
    return ClientHello(True, None, sni, alpn, ech, size)


def _server_name(data: bytes) -> str:
    r = _Reader(data)
    names = _Reader(r.vec(2))
    if not r.done():
        raise HelloError("malformed")
    host: bytes | None = None
    while not names.done():
        kind, value = names.uint(1), names.vec(2)
        if kind == 0:
            if host is not None:  # RFC 6066 §3: one name per type
                raise HelloError("bad_sni")
            host = value
    if not host or not host.isascii() or any(b < 0x21 or b == 0x7F for b in host):
        raise HelloError("bad_sni")
    return host.decode("ascii")


def _alpn(data: bytes) -> tuple[str, ...]:
    r = _Reader(data)
    protos = _Reader(r.vec(2))
    if not r.done():
        raise HelloError("malformed")
    out = []
    while not protos.done():
        p = protos.vec(1)
        if not p:
            raise HelloError("malformed")
        out.append(p.decode("latin-1"))
    return tuple(out)


def vet_client_hello(connect_host: str, hello: ClientHello, *, allow_ech: bool = False) -> tuple[bool, str]:
    """May this tunnel proceed? (ok, reason): `sni_ok`, `sni_absent_ip`, `sni_missing`,
    `sni_mismatch`, `sni_bad:<HostError reason>`, `ech_refused`, or the parse error."""
    if not hello.complete:
        return False, "hello_incomplete"
    if hello.error is not None:
        return False, hello.error
    if hello.ech and not allow_ech:
        return False, "ech_refused"
    return sni_matches(connect_host, hello.sni)
