"""CA rotation: the derived schedule (pure) and a real `serve` rotating under live interception."""

from __future__ import annotations

import os
import pickle
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from budget import resp
from egress import CAChain
from egress.ca import CLOCK_SKEW, LeafCache
from gateway.ca_trust import Trust, merge_bundles
from tests.conftest import ALICE, Gateway
from tests.https_upstream import Origin, make_test_pki
from tests.test_egress import NAMES, egress_config
from tests.upstream import free_port

START = datetime(2030, 1, 1, tzinfo=UTC)


def certs(bundle: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(bundle)


def test_schedule_overlap_and_switch() -> None:
    chain = CAChain(timedelta(hours=3), start=START)
    hour = timedelta(hours=1)
    assert chain.period == hour
    # Epoch 0: the current CA and the next, announced a whole period before it signs anything.
    first = certs(chain.bundle_pem(START + hour / 2))
    assert [c.subject for c in first] == [chain.ca(0).certificate.subject, chain.ca(1).certificate.subject]
    assert chain.current(START + hour / 2) is chain.ca(0)
    # After the switch: previous (still valid, its last leaves live on), current, next.
    later = START + hour * 1.5
    assert chain.current(later) is chain.ca(1)
    assert [c.serial_number for c in certs(chain.bundle_pem(later))] == [
        chain.ca(k).certificate.serial_number for k in (0, 1, 2)
    ]
    for k in range(4):
        cert = chain.ca(k).certificate
        assert cert.not_valid_after_utc == START + (k + 2) * hour  # one period after its last leaf
        assert cert.not_valid_before_utc == max(START, START + (k - 1) * hour) - CLOCK_SKEW
        assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(hours=3) + CLOCK_SKEW
    # Every CA that can have signed a still-valid leaf is in the bundle; nothing expired is.
    for t in (START + hour * x for x in (0.1, 0.99, 1.0, 2.5, 7.3)):
        served = certs(chain.bundle_pem(t))
        assert all(c.not_valid_after_utc > t for c in served)
        current = chain.current(t).certificate
        assert current in served and served.index(current) <= 1
    # A leaf never outlives its CA, even when minted at the very end of the CA's period.
    end_of_0 = START + hour - timedelta(seconds=1)
    leaf = x509.load_pem_x509_certificate(chain.current(end_of_0).issue_leaf("api.test", now=end_of_0)[0])
    assert leaf.not_valid_after_utc <= chain.ca(0).not_after
    leaf.verify_directly_issued_by(chain.ca(0).certificate)


def test_every_worker_derives_the_same_cas() -> None:
    chain = CAChain(timedelta(days=7))
    expected = b"".join(chain.ca(k).cert_pem() for k in range(3))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker forked before anything was derived: same seed, same certificates
        code = 1
        try:
            fresh = CAChain(timedelta(days=7), start=chain.start, seed=chain._seed)
            os.write(write, b"".join(fresh.ca(k).cert_pem() for k in range(3)))
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    got = b""
    while chunk := os.read(read, 65536):
        got += chunk
    os.close(read)
    os.waitpid(pid, 0)
    assert got == expected
    other = CAChain(timedelta(days=7), start=chain.start)  # another replica: another seed
    assert other.ca(0).cert_pem() != chain.ca(0).cert_pem() and other.replica_id != chain.replica_id


def test_chain_refuses_pickling_and_tiny_lifetimes() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(CAChain())
    with pytest.raises(ValueError, match="at least"):
        CAChain(timedelta(seconds=1))


async def test_leaf_cache_switches_to_the_new_ca() -> None:
    chain = CAChain(timedelta(hours=3), start=START)
    now = [(START + timedelta(minutes=10)).timestamp()]
    cache = LeafCache(chain.ca(0), clock=lambda: now[0], in_executor=False)
    first = await cache.context_for("api.test")
    assert await cache.context_for("api.test") is first  # cached within the CA's period
    now[0] += 3600
    cache.use(chain.current(datetime.fromtimestamp(now[0], UTC)))
    second = await cache.context_for("api.test")
    assert second is not first and cache.ca is chain.ca(1)


# --- a real serve rotating twice under live interception ------------------------------------


def test_serve_rotates_twice_while_clients_keep_connecting(upstream, tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path, NAMES)
    origin, plain = Origin(pki[1]).start(), Origin(None).start()
    config = egress_config(upstream.base_url, origin, plain, pki[0], tmp_path)
    validity = 7.5  # a new CA every 2.5 s
    period = validity / 3
    config["egress"]["ca_validity_s"] = validity
    gw = Gateway(tmp_path, config, workers=2).start()
    proxy = f"http://alice:{ALICE}@127.0.0.1:{gw.egress_port}"
    url = f"https://api.test:{origin.port}/user"
    issuers: set[str] = set()
    failures: list[str] = []
    done = 0
    lock = threading.Lock()
    stop = time.monotonic() + 2.3 * period  # past the second switch

    def sandbox() -> None:
        nonlocal done
        # A sandbox refreshes its trust from /ca.pem more often than once per rotation period.
        fetched = 0.0
        verify: ssl.SSLContext | None = None
        while time.monotonic() < stop:
            if time.monotonic() - fetched > period / 2:
                bundle = httpx.get(f"http://127.0.0.1:{gw.egress_port}/ca.pem").text
                verify, fetched = ssl.create_default_context(cadata=bundle), time.monotonic()
            began = time.monotonic()
            try:
                # A new client: a new CONNECT and a new handshake each time.
                with httpx.Client(proxy=proxy, verify=verify, timeout=5) as c, c.stream("GET", url) as r:
                    r.read()
                    cert = r.extensions["network_stream"].get_extra_info("ssl_object").getpeercert()
                    with lock:
                        issuers.add(dict(x[0] for x in cert["issuer"])["commonName"])
                        done += 1
                        assert r.status_code == 200
            except Exception as e:  # every failure is collected and reported
                # The contract: a bundle younger than one period is enough. A request that began
                # later than that (a stalled test thread on a busy machine) proves nothing.
                if began - fetched < period:
                    failures.append(repr(e))

    threads = [threading.Thread(target=sandbox) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # The written bundle follows the rotation too.
        on_disk = certs((tmp_path / "tollgate-ca.pem").read_bytes())
        asked = datetime.now(UTC)
        served = certs(httpx.get(f"http://127.0.0.1:{gw.egress_port}/ca.pem").content)
    finally:
        gw.stop()
        origin.stop()
        plain.stop()
    assert not failures, failures[:3]
    assert len(issuers) >= 3, issuers  # leaves from three CAs: two rotations
    assert done > 20
    assert len(on_disk) == 3 and {c.subject.rfc4514_string().split("CN=")[1].split(",")[0] for c in on_disk} & issuers
    assert all(c.not_valid_after_utc > asked for c in served)  # nothing expired is served


# --- the replicas' bundle in Redis -----------------------------------------------------------


def test_merge_bundles_skips_expired_replicas_and_duplicates() -> None:
    a, b = CAChain(timedelta(days=7)), CAChain(timedelta(days=7))
    fields = {b"a": b"9999999999999\n" + a.bundle_pem(), b"b": b"9999999999999\n" + b.bundle_pem(), b"old": b"5\nx"}
    bundle, expired = merge_bundles(a.bundle_pem(), fields, now_ms=10)
    assert expired == [b"old"]
    assert len(certs(bundle)) == 4  # a's two (not twice) and b's two
    assert merge_bundles(a.bundle_pem(), {b"bad": b"soon\n"}, 10) == (a.bundle_pem(), [b"bad"])


async def test_replicas_publish_and_a_dead_redis_serves_the_own_bundle(prefix: str) -> None:
    target = resp.parse_url("redis://127.0.0.1:6379/0", 0.5)
    chains = [CAChain(timedelta(days=7)) for _ in range(2)]
    trusts = [Trust(c, resp.connect(target), prefix) for c in chains]
    try:
        for t in trusts:
            await t.publish()
        bundle = await trusts[0].bundle_pem()
        assert {c.serial_number for c in certs(bundle)} == {
            ca.certificate.serial_number for c in chains for ca in c.served()
        }
        assert b"PRIVATE" not in bundle
        # A replica that stopped publishing leaves the bundle once its entry expires.
        await trusts[0].client.call("HSET", trusts[0].key, "gone", b"1\n" + CAChain().bundle_pem(), key=trusts[0].key)
        trusts[0]._cached = None
        assert len(certs(await trusts[0].bundle_pem())) == 4
        assert await trusts[0].client.call("HEXISTS", trusts[0].key, "gone", key=trusts[0].key) == 0
    finally:
        await trusts[0].client.call("DEL", trusts[0].key, key=trusts[0].key)
        for t in trusts:
            await t.close()
    dead = Trust(chains[0], resp.connect(resp.parse_url(f"redis://127.0.0.1:{free_port()}/0", 0.2)), prefix)
    try:
        assert await dead.bundle_pem() == chains[0].bundle_pem()  # Redis down: this replica's own CAs
    finally:
        await dead.close()
