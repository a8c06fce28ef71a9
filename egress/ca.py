"""The in-memory interception CA and a per-host cache of server SSLContexts (DESIGN §6).

The CA key is generated at start-up in the parent, before workers fork (DESIGN §2), so every
worker mints leaves under the same CA; cryptography's key objects are plain process memory and
survive `os.fork()`. Nothing here starts a thread at import; the default executor (see
`LeafCache`) is created lazily by the event loop of the process that first mints.

The CA private key is never serialized: there is no export method, pickling is refused, and only
the public certificate is available as PEM (`cert_pem`, for `GET /ca.pem` and Redis).

Loading a leaf into an `ssl.SSLContext`: `load_cert_chain` only reads files (loading from memory
is cpython issue #60691 (bpo-16487), open since 2012). A temporary file would put the leaf key on
a disk (trustme does exactly that). Instead the PEM is written to an anonymous `memfd_create(2)`
file — RAM-backed, never linked into any filesystem, close-on-exec — and loaded through
`/proc/self/fd/N`, then the fd is closed. The key exists only in this process's memory (and swap,
like the rest of the heap). Linux-only, as the appliance is; elsewhere `LeafCache` raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import os
import secrets
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from egress.hosts import HostError, canonical_host, is_ip, sni_matches

__all__ = [
    "CA_VALIDITY",
    "CLOCK_SKEW",
    "LEAF_LIFETIME",
    "CAExpiredError",
    "CertificateAuthority",
    "LeafCache",
    "server_context",
]

# A week: a CA that only lives in memory is re-made at every start, so long validity buys
# nothing; short-lived certificates in the CA/Browser Forum's sense (ballot SC-063) are ≤ 7 days.
CA_VALIDITY = timedelta(days=7)
# Leaves: ≤ 24 h from not-before to not-after (DESIGN §6), re-minted at half-life by LeafCache.
LEAF_LIFETIME = timedelta(hours=24)
# Backdating for clients whose clocks run slow: Kerberos' default tolerance (MIT krb5 clockskew).
CLOCK_SKEW = timedelta(minutes=5)
# RFC 5280 ub-common-name: a longer host goes in the SAN only.
_MAX_CN = 64


class CAExpiredError(RuntimeError):
    """The CA can no longer sign a valid leaf; the appliance must make a new CA."""


def _serial() -> int:
    """A random positive 128-bit serial (RFC 5280 §4.1.2.2 allows 20 octets; CA/B asks for ≥ 64
    random bits)."""
    while True:
        n = secrets.randbits(128)
        if n:
            return n


def _ski(key: ec.EllipticCurvePublicKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key)


class CertificateAuthority:
    """An ECDSA P-256 CA whose private key stays in this object. Make one with `generate()`."""

    __slots__ = ("_cert", "_cert_pem", "_key", "_ski")

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self._key = key
        self._cert = cert
        self._cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self._ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value

    @classmethod
    def generate(cls, validity: timedelta = CA_VALIDITY, *, now: datetime | None = None) -> CertificateAuthority:
        now = now or datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        return cls.build(key, secrets.token_hex(4), _serial(), now - CLOCK_SKEW, now + validity)

    @classmethod
    def build(
        cls, key: ec.EllipticCurvePrivateKey, tag: str, serial: int, not_before: datetime, not_after: datetime
    ) -> CertificateAuthority:
        """A CA for a given key, name tag, serial and validity. The signature is deterministic
        (RFC 6979), so the same inputs give the same certificate bytes in every process: that is
        what lets forked workers derive one rotation schedule each (`egress.rotation`)."""
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tollgate"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"tollgate egress CA {tag}"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            # path_length=0: this CA signs leaves only, never another CA.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(_ski(key.public_key()), critical=False)
            .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
        )
        return cls(key, cert)

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    @property
    def not_after(self) -> datetime:
        return self._cert.not_valid_after_utc

    @property
    def fingerprint_sha256(self) -> str:
        """Hex SHA-256 of the DER certificate: a stable id for logs and the Redis bundle."""
        return self._cert.fingerprint(hashes.SHA256()).hex()

    def cert_pem(self) -> bytes:
        """The public CA certificate (PEM) sandboxes trust."""
        return self._cert_pem

    def issue_leaf(self, host: str, *, now: datetime | None = None) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) of a new leaf for a canonical host, with its own new P-256 key."""
        cert, key_pem = self._issue(host, now)
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    def _issue(self, host: str, now: datetime | None) -> tuple[x509.Certificate, bytes]:
        try:
            canonical = canonical_host(host)
        except HostError as e:
            raise ValueError(f"cannot mint for a bad host ({e.reason})") from None
        if canonical != host:
            raise ValueError("cannot mint for a non-canonical host; use egress.hosts.canonical_host")
        now = now or datetime.now(UTC)
        not_before = now - CLOCK_SKEW
        not_after = min(not_before + LEAF_LIFETIME, self.not_after)
        if not_after <= now:
            raise CAExpiredError(f"CA expired at {self.not_after.isoformat()}")
        key = ec.generate_private_key(ec.SECP256R1())
        if is_ip(host):
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        else:
            san = x509.DNSName(host)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)] if len(host) <= _MAX_CN else [])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            # RFC 5280 §4.2.1.6: with an empty subject the SAN must be critical.
            .add_extension(x509.SubjectAlternativeName([san]), critical=len(subject) == 0)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._ski), critical=False)
            .add_extension(_ski(key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert, key_pem

    def __reduce__(self) -> NoReturn:
        raise TypeError("the CA private key never leaves memory: CertificateAuthority cannot be pickled")

    def __repr__(self) -> str:
        return f"<CertificateAuthority {self._cert.subject.rfc4514_string()} until {self.not_after.isoformat()}>"


def _load_chain_from_memory(ctx: ssl.SSLContext, pem: bytes) -> None:
    """`load_cert_chain` from an anonymous memory file: the key never touches a filesystem."""
    fd = os.memfd_create("tollgate-leaf", os.MFD_CLOEXEC)
    try:
        view = memoryview(pem)
        while view:
            view = view[os.write(fd, view) :]
        ctx.load_cert_chain(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def server_context(host: str, cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A server-side context presenting the leaf for `host` (HTTP/1.1 only, TLS ≥ 1.2).

    It refuses a ClientHello whose SNI is not `host` (`hosts.sni_matches`) with an
    `unrecognized_name` alert; the proxy's side of the handshake then raises SSLError with
    reason "CALLBACK_FAILED". Either way the callback leaves `tollgate_sni` (the server_name as
    sent, or None) and `tollgate_sni_reason` (`sni_ok`, `sni_mismatch`, …) on the SSLObject
    (`transport.get_extra_info("ssl_object")`) for the audit row.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_RENEGOTIATION
    ctx.set_alpn_protocols(["http/1.1"])  # the interceptor speaks h11; never let a client pick h2
    # No TLS 1.3 session tickets: OpenSSL sends two by default after every handshake, about a
    # sixth of the handshake's CPU and another write, for a resumption that Go's and Python's
    # clients (most agents' tools) never attempt, and that would save little here (psk_dhe_ke
    # still does the key exchange; only the leaf's signature is skipped).
    ctx.num_tickets = 0
    _load_chain_from_memory(ctx, cert_pem + key_pem)

    def check_sni(obj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
        ok, reason = sni_matches(host, server_name)
        with contextlib.suppress(AttributeError):  # a note for the audit row, never a reason to fail
            obj.tollgate_sni = server_name  # type: ignore[union-attr]
            obj.tollgate_sni_reason = reason  # type: ignore[union-attr]
        return None if ok else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME

    ctx.sni_callback = check_sni
    return ctx


@dataclass(slots=True)
class _Entry:
    ctx: ssl.SSLContext
    refresh_at: float  # epoch seconds; re-mint after, well before the leaf expires


class LeafCache:
    """Per-host server SSLContexts: LRU-bounded, single-flight, re-minted at half the leaf's life.

    `max_entries=1024`: a context with its leaf costs a few KiB; a thousand distinct intercepted
    hosts per worker is far above what one agent fleet reaches, and a miss costs ~1 ms.
    Counters (`hits`, `misses`, `joins`, `mints`, `evictions`, `errors`) feed metrics;
    `observe(hit)` is told each lookup's outcome as it is decided (a caller comparing counters
    around its own `await` would also count other callers' lookups).

    A mint measured ~1.0 ms of CPU on the 2-core dev box (leaf 0.13 ms: P-256 keygen and
    signature; SSLContext 0.7-0.9 ms, mostly OpenSSL 3's PEM decoders in `load_cert_chain`; the
    memfd itself 0.03 ms). That is over a 1 ms budget for blocking the loop, so by default it
    runs in the loop's default executor (`in_executor=False` mints inline, e.g. in tests).
    """

    def __init__(
        self,
        ca: CertificateAuthority,
        max_entries: int = 1024,
        *,
        clock: Callable[[], float] = time.time,
        in_executor: bool = True,
        observe: Callable[[bool], None] | None = None,
    ) -> None:
        if not hasattr(os, "memfd_create"):
            raise RuntimeError("LeafCache needs os.memfd_create (Linux): leaf keys are never written to disk")
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.ca = ca
        self.max_entries = max_entries
        self._clock = clock
        self._in_executor = in_executor
        self._observe = observe
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[ssl.SSLContext]] = {}
        self.hits = 0
        self.misses = 0
        self.joins = 0
        self.mints = 0
        self.evictions = 0
        self.errors = 0
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, int]:
        return {
            "entries": len(self._entries),
            "hits": self.hits,
            "misses": self.misses,
            "joins": self.joins,
            "mints": self.mints,
            "evictions": self.evictions,
            "errors": self.errors,
        }

    def clear(self) -> None:
        """Forget every context; mints in flight still answer their callers but are not kept."""
        self._entries.clear()
        self._generation += 1

    def use(self, ca: CertificateAuthority) -> None:
        """Mint under `ca` from now on (a CA rotation): leaves of the previous CA are dropped."""
        if ca is not self.ca:
            self.ca = ca
            self.clear()

    async def context_for(self, host: str) -> ssl.SSLContext:
        """The server SSLContext for a canonical host; concurrent callers share one mint."""
        entry = self._entries.get(host)
        if entry is not None and self._clock() < entry.refresh_at:
            self._entries.move_to_end(host)
            self.hits += 1
            if self._observe is not None:
                self._observe(True)
            return entry.ctx
        self.misses += 1
        if self._observe is not None:
            self._observe(False)
        task = self._inflight.get(host)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._mint(host, self._generation))
            self._inflight[host] = task
            task.add_done_callback(functools.partial(self._minted, host))
        else:
            self.joins += 1
        # shield: one caller giving up (client gone) must not cancel the mint the others await.
        return await asyncio.shield(task)

    def _minted(self, host: str, task: asyncio.Task[ssl.SSLContext]) -> None:
        if self._inflight.get(host) is task:
            del self._inflight[host]
        if not task.cancelled() and task.exception() is not None:  # retrieved: no "never retrieved" noise
            self.errors += 1

    async def _mint(self, host: str, generation: int) -> ssl.SSLContext:
        if self._in_executor:
            ctx, refresh_at = await asyncio.get_running_loop().run_in_executor(None, self._build, host)
        else:
            ctx, refresh_at = self._build(host)
        self.mints += 1
        if generation != self._generation:
            return ctx
        self._entries[host] = _Entry(ctx, refresh_at)
        self._entries.move_to_end(host)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.evictions += 1
        return ctx

    def _build(self, host: str) -> tuple[ssl.SSLContext, float]:
        start = self._clock()
        leaf, key_pem = self.ca._issue(host, datetime.fromtimestamp(start, UTC))
        # Half the life left from now (not from the backdated not-before): a leaf clamped to a CA
        # near its end is still reused for a while.
        end = leaf.not_valid_after_utc.timestamp()
        ctx = server_context(host, leaf.public_bytes(serialization.Encoding.PEM), key_pem)
        return ctx, start + (end - start) / 2
