"""CA rotation: a schedule of interception CAs derived from one in-memory seed (DESIGN §2, §6).

Why a derived schedule: with `--workers N` every worker must mint under the same CA at the
same time, and a worker the supervisor restarts a month later must too. Pre-generating CAs in
the parent would bound how long `serve` may run; talking between workers would add a channel.
Instead the parent draws a 256-bit seed and a start time before forking, and CA number k is a
pure function of (seed, start, k): its key is HMAC-SHA512(seed, k) reduced onto P-256, its serial
and name tag come from the same HMAC, its validity from the schedule, and its signature is
deterministic (RFC 6979), so every worker computes byte-identical certificates. The seed is as
secret as a CA key and is kept the same way: process memory only, never serialized.

The schedule, with P = validity / 3:

    CA k   announced (served at /ca.pem)   start + (k-1)·P
           signs leaves                    [start + k·P, start + (k+1)·P)
           expires                         start + (k+2)·P

So the next CA is in the bundle a whole period before the switch (a sandbox that fetched the
bundle recently already trusts it), and a CA stays in the bundle, and valid, one period after
its last leaf, whose lifetime `CertificateAuthority` clamps to the CA's own. The bundle holds at
most three certificates: previous, current, next.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from cryptography.hazmat.primitives.asymmetric import ec

from egress.ca import CA_VALIDITY, CLOCK_SKEW, CertificateAuthority

__all__ = ["CAChain"]

# The order of the P-256 group: a private scalar lies in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# A CA shorter than this leaves too little time to fetch the bundle before the next switch.
MIN_VALIDITY = timedelta(seconds=3)


class CAChain:
    """CA k for every period k since `start`; `current()` is the one that signs leaves now."""

    __slots__ = ("_cache", "_seed", "period", "start", "validity")

    def __init__(
        self,
        validity: timedelta = CA_VALIDITY,
        *,
        start: datetime | None = None,
        seed: bytes | None = None,
    ) -> None:
        if validity < MIN_VALIDITY:
            raise ValueError(f"CA validity must be at least {MIN_VALIDITY.total_seconds():.0f} s")
        self.validity = validity
        self.period = validity / 3
        self.start = start or datetime.now(UTC)
        self._seed = seed or secrets.token_bytes(32)
        self._cache: dict[int, CertificateAuthority] = {}

    @property
    def replica_id(self) -> str:
        """A stable, public id of this appliance's chain (the same in all its workers)."""
        return hmac.new(self._seed, b"replica-id", hashlib.sha256).hexdigest()[:16]

    def epoch(self, now: datetime | None = None) -> int:
        elapsed = (now or datetime.now(UTC)) - self.start
        return max(0, math.floor(elapsed / self.period))

    def switch_at(self, k: int) -> datetime:
        """When CA k starts signing leaves."""
        return self.start + k * self.period

    def ca(self, k: int) -> CertificateAuthority:
        found = self._cache.get(k)
        if found is None:
            found = self._derive(k)
            # Only the CAs near the current one are ever asked for again: keep the cache tiny.
            for old in [e for e in self._cache if e < k - 1]:
                del self._cache[old]
            self._cache[k] = found
        return found

    def current(self, now: datetime | None = None) -> CertificateAuthority:
        return self.ca(self.epoch(now))

    def served(self, now: datetime | None = None) -> list[CertificateAuthority]:
        """The CAs a sandbox must trust now: previous (still valid), current, next."""
        k = self.epoch(now)
        return [self.ca(e) for e in range(max(0, k - 1), k + 2)]

    def bundle_pem(self, now: datetime | None = None) -> bytes:
        return b"".join(ca.cert_pem() for ca in self.served(now))

    def _derive(self, k: int) -> CertificateAuthority:
        material = hmac.new(self._seed, b"ca:" + k.to_bytes(8, "big"), hashlib.sha512).digest()
        # 512 bits reduced mod n-1: the bias is 2^-256, negligible (FIPS 186-5 A.2.1's method).
        scalar = int.from_bytes(material, "big") % (_P256_ORDER - 1) + 1
        key = ec.derive_private_key(scalar, ec.SECP256R1())
        tag_serial = hmac.new(self._seed, b"id:" + k.to_bytes(8, "big"), hashlib.sha256).digest()
        serial = int.from_bytes(tag_serial[:16], "big") | 1  # positive and non-zero
        announced = max(self.start, self.switch_at(k - 1))
        return CertificateAuthority.build(
            key, tag_serial[16:20].hex(), serial, announced - CLOCK_SKEW, self.switch_at(k + 2)
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError("the CA seed never leaves memory: CAChain cannot be pickled")

    def __repr__(self) -> str:
        return f"<CAChain {self.replica_id} every {self.period.total_seconds():.0f}s>"
