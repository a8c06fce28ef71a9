"""What `/ca.pem` serves, and keeping it current: this replica's CAs, plus every live replica's
when the replicas share a Redis (DESIGN §2 scale-out).

Each replica keeps its CA keys in memory (`egress.rotation.CAChain`) and publishes only its
certificates: one field per replica in one Redis hash, `<expiry ms>\\n<PEM bundle>`, refreshed
every TTL/3. One key (with a hash tag) means one slot, so the same commands work on Redis
Cluster; the per-field expiry is in the value because per-field TTLs (HEXPIRE) need Redis 7.4.
Readers skip expired fields and delete them; the key's own TTL removes the hash once no replica
publishes. When Redis does not answer, `/ca.pem` serves this replica's own bundle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path

from budget import resp
from config.schema import BudgetStore
from egress.rotation import CAChain

log = logging.getLogger("tollgate")

# Long enough to ride out a Redis failover (a few seconds) and a slow start; short enough that a
# replica gone for good leaves the bundle within a minute.
PUBLISH_TTL_S = 60.0
# How long a fetched bundle is reused: /ca.pem is fetched by every sandbox at start, not per request.
READ_CACHE_S = 2.0
# Fetching the bundle is off the hot path; a slower store than the budgets' is tolerated.
REDIS_TIMEOUT_S = 0.5


def redis_target(settings: BudgetStore) -> resp.Target | None:
    """The budgets' Redis (the only Redis an appliance is configured with), if any."""
    return settings.redis_target(timeout_s=REDIS_TIMEOUT_S) if settings.store == "redis" else None


def merge_bundles(own: bytes, fields: dict[bytes, bytes], now_ms: int) -> tuple[bytes, list[bytes]]:
    """(own bundle + every live replica's certificates, deduplicated in order; expired fields)."""
    seen: set[bytes] = set()
    out: list[bytes] = []
    expired: list[bytes] = []
    bundles = [own]
    for name, value in sorted(fields.items()):
        expiry, _, pem = value.partition(b"\n")
        if not expiry.isdigit() or int(expiry) <= now_ms:
            expired.append(name)
        else:
            bundles.append(pem)
    for bundle in bundles:
        for cert in _split_pem(bundle):
            if cert not in seen:
                seen.add(cert)
                out.append(cert)
    return b"".join(out), expired


def _split_pem(bundle: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----\n"
    return [part + end for part in bundle.split(end) if part.strip()]


class Trust:
    """This replica's chain, optionally shared through Redis under `<key_prefix>{ca}:bundle`."""

    def __init__(self, chain: CAChain, client: resp.Client | None, key_prefix: str = "tollgate:") -> None:
        self.chain = chain
        self.client = client
        self.key = f"{key_prefix}{{ca}}:bundle"
        self._cached: tuple[float, bytes] | None = None

    async def bundle_pem(self) -> bytes:
        own = self.chain.bundle_pem()
        if self.client is None:
            return own
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < READ_CACHE_S:
            return self._cached[1]
        try:
            raw = await self.client.call("HGETALL", self.key, key=self.key)
        except resp.RedisError as e:
            log.warning("CA bundle: Redis unavailable (%s); serving this replica's CA only", e)
            return own
        fields = dict(zip(raw[::2], raw[1::2], strict=True))
        bundle, expired = merge_bundles(own, fields, int(time.time() * 1000))
        if expired:
            with contextlib.suppress(resp.RedisError):  # best effort: the next reader tries again
                self.client.call_nowait("HDEL", self.key, *expired, key=self.key).add_done_callback(_retrieved)
        self._cached = (now, bundle)
        return bundle

    async def publish(self) -> None:
        assert self.client is not None
        expiry = int((time.time() + PUBLISH_TTL_S) * 1000)
        value = b"%d\n" % expiry + self.chain.bundle_pem()
        await self.client.call("HSET", self.key, self.chain.replica_id, value, key=self.key)
        await self.client.call("PEXPIRE", self.key, int(PUBLISH_TTL_S * 1000), key=self.key)

    async def keep(self, cert_path: str | None) -> None:
        """Until cancelled: rewrite `cert_path` at each rotation and re-publish every TTL/3."""
        epoch = -1
        period = self.chain.period.total_seconds()
        step = min(PUBLISH_TTL_S / 3, period / 4)
        while True:
            now = self.chain.epoch()
            if now != epoch:
                epoch = now
                if cert_path:
                    write_atomically(cert_path, self.chain.bundle_pem())
                log.info("CA %s signs leaves (epoch %d)", self.chain.current().fingerprint_sha256[:16], epoch)
            if self.client is not None:
                try:
                    await self.publish()
                except resp.RedisError as e:
                    log.warning("CA bundle: cannot publish to Redis (%s); retrying", e)
            await asyncio.sleep(step)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


def _retrieved(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()  # a failed clean-up is not worth a "never retrieved" warning


def write_atomically(path: str, data: bytes) -> None:
    """Replace `path` in one rename, so a sandbox never reads half a bundle; workers may race."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
