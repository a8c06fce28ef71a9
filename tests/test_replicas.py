"""Replicas: three `tollgate serve` processes behind a round-robin TCP balancer, sharing one
Redis (budgets, the CA bundle) and one PostgreSQL (audit)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import signal
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from cryptography import x509

from tests.conftest import ALICE, CAROL, Gateway
from tests.https_upstream import Origin, make_test_pki
from tests.pg import dsn_for, fetch, fresh_database
from tests.test_budget_llm import MAX_TOKENS, MESSAGES, WORST, budget_config
from tests.test_budget_load import cluster  # noqa: F401 - a fixture: a local three-node Redis Cluster
from tests.test_egress import NAMES, egress_config
from tests.upstream import free_port, wait_until

REQUEST_ID = re.compile(rb"(?i)\r\nx-request-id: ([^\r\n]+)")


class Balancer:
    """Round-robin TCP balancer; skips a backend that refuses. Remembers which backend answered
    each x-request-id (read from the response head it relays)."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.port = free_port()
        self.served: dict[str, int] = {}
        self._next = 0
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(len(self.backends)):
            index = self._next % len(self.backends)
            self._next += 1
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backends[index])
                break
            except OSError:
                continue
        else:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, back: bool) -> None:
            try:
                while data := await src.read(65536):
                    if back and (m := REQUEST_ID.search(data)):
                        self.served[m.group(1).decode()] = index
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)


def replica_configs(base: dict[str, Any], n: int) -> list[dict[str, Any]]:
    configs = []
    for _ in range(n):
        c = copy.deepcopy(base)
        for name in ("llm", "admin", "egress"):
            c["listeners"][name]["port"] = free_port()
        configs.append(c)
    return configs


@pytest.fixture
def world(upstream, tmp_path: Path, prefix: str) -> Iterator[dict[str, Any]]:
    pki = make_test_pki(tmp_path, NAMES)
    origin, plain = Origin(pki[1]).start(), Origin(None).start()
    with fresh_database() as database:
        yield {"pki": pki, "origin": origin, "plain": plain, "dsn": dsn_for(database), "tmp": tmp_path}
    origin.stop()
    plain.stop()
    client = redis.Redis(host="127.0.0.1", port=6379)
    if keys := list(client.scan_iter(prefix + "*")):
        client.delete(*keys)
    client.close()


def start_replicas(upstream, world: dict[str, Any], redis_url: str, prefix: str, **budget: Any) -> list[Gateway]:
    base = budget_config(upstream.base_url, redis_url, prefix)
    base["budget"].update(budget)
    eg = egress_config(upstream.base_url, world["origin"], world["plain"], world["pki"][0], world["tmp"])
    base["egress"] = {k: v for k, v in eg["egress"].items() if k != "ca_cert_path"}
    base["orgs"][0]["egress"] = eg["orgs"][0]["egress"]
    base["secrets"] = eg["secrets"]
    base["audit"] = {
        "sink": "postgres", "dsn": world["dsn"], "flush_interval_s": 0.05, "retry_max_s": 0.2,
        "connect_timeout_s": 1, "spool_dir": "var/audit-spool",
    }  # fmt: skip
    gateways = []
    for i, config in enumerate(replica_configs(base, 3)):
        workdir = world["tmp"] / f"replica-{i}"
        workdir.mkdir()
        gateways.append(Gateway(workdir, config))
    # Start them together: the machine is small and each start waits on its own readiness.
    threads = [threading.Thread(target=start_quietly, args=(g,)) for g in gateways]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # A busy machine may take longer than Gateway.start waits; the processes must be up, then ready.
    up = all(g.proc is not None and g.proc.poll() is None for g in gateways)
    if not (up and wait_until(lambda: all(ready(g) for g in gateways), timeout=60)):
        stop_all(gateways)
        logs = "\n\n".join(
            f"replica {i}, exit {g.proc and g.proc.returncode}:\n{g.log()[-3000:]}" for i, g in enumerate(gateways)
        )
        pytest.fail(f"replicas not up and ready:\n{logs}", pytrace=False)  # whole logs, not a truncated repr
    return gateways


def stop_all(gateways: list[Gateway]) -> None:
    for g in gateways:
        if g.proc is not None and g.proc.poll() is None:
            g.stop()


def start_quietly(g: Gateway) -> None:
    with contextlib.suppress(RuntimeError):  # not ready within Gateway.start's wait: checked below
        g.start()


def ready(g: Gateway) -> bool:
    try:
        return httpx.get(g.admin_url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def burst(port: int, token: str, model: str, n: int) -> list[httpx.Response | Exception]:
    async def run() -> list[httpx.Response | Exception]:
        # No keep-alive: every request is a new connection, so the balancer spreads them.
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            body = {"model": model, "messages": MESSAGES, "max_tokens": MAX_TOKENS}
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            headers = {"Authorization": f"Bearer {token}"}
            return await asyncio.gather(
                *(client.post(url, json=body, headers=headers) for _ in range(n)), return_exceptions=True
            )

    return asyncio.run(run())


def llm_rows(dsn: str) -> dict[str, int]:
    """Rows per request id of the LLM door (served requests, and budget denials)."""
    found = fetch(
        dsn,
        "SELECT request_id, count(*) AS n FROM audit_events WHERE surface IN ('llm', 'budget') GROUP BY request_id",
    )
    return {r["request_id"]: r["n"] for r in found}


def test_three_replicas_share_budget_ca_bundle_and_audit(upstream, world: dict[str, Any], prefix: str) -> None:
    gateways = start_replicas(upstream, world, "redis://127.0.0.1:6379/0", prefix)
    llm = Balancer([g.config["listeners"]["llm"]["port"] for g in gateways])
    try:
        # Budgets: 200 concurrent requests over three replicas against a budget affording 10.
        results = burst(llm.port, ALICE, "fast-gpt", 200)
        ok = [r for r in results if isinstance(r, httpx.Response) and r.status_code == 200]
        refused = [r for r in results if isinstance(r, httpx.Response) and r.status_code == 429]
        assert len(ok) <= 10 and len(ok) + len(refused) == 200, (len(ok), len(refused), results[:3])
        assert len(ok) >= 9  # the budget was used, not refused wholesale
        assert set(llm.served.values()) == {0, 1, 2}  # every replica took part
        # Audit: every answered request has exactly one row, whichever replica served it.
        ids = {r.headers["x-request-id"] for r in ok + refused}
        assert wait_until(lambda: ids <= set(llm_rows(world["dsn"])), timeout=15)
        rows = llm_rows(world["dsn"])
        assert all(rows[i] == 1 for i in ids)
        assert fetch(world["dsn"], "SELECT sum(cost_usd) AS s FROM audit_events WHERE surface = 'llm'")[0][
            "s"
        ] == pytest.approx(len(ok) * WORST, rel=0.5)

        # CA trust: the bundle from replica A holds every replica's CAs (current and next).
        bundle = httpx.get(f"http://127.0.0.1:{gateways[0].egress_port}/ca.pem").content
        subjects = {c.subject for c in x509.load_pem_x509_certificates(bundle)}
        assert len(subjects) == 6, len(subjects)
        trust = ssl.create_default_context(cadata=bundle.decode())
        url = f"https://api.test:{world['origin'].port}/user"
        for g in gateways[1:]:
            with httpx.Client(proxy=f"http://alice:{ALICE}@127.0.0.1:{g.egress_port}", verify=trust) as c:
                assert c.get(url).status_code == 200  # intercepted by B and C, trusted via A's bundle
        assert wait_until(
            lambda: len(fetch(world["dsn"], "SELECT 1 FROM audit_events WHERE surface = 'egress'")) >= 2, timeout=10
        )

        # One replica SIGKILLed mid-load: nothing the others served is lost.
        killed = 2
        results: list[httpx.Response | Exception] = []
        loader = threading.Thread(target=lambda: results.extend(burst(llm.port, CAROL, "mock-gpt", 300)))
        loader.start()
        assert wait_until(lambda: len(llm.served) > len(ids) + 30, timeout=20)
        gateways[killed].proc.send_signal(signal.SIGKILL)
        gateways[killed].proc.wait()
        loader.join()
        answered = {
            r.headers["x-request-id"] for r in results if isinstance(r, httpx.Response) and r.status_code == 200
        }
        survivors = {i for i in answered if llm.served.get(i) != killed}
        assert len(survivors) > 100
        assert wait_until(lambda: survivors <= set(llm_rows(world["dsn"])), timeout=15)
        rows = llm_rows(world["dsn"])
        assert all(rows[i] == 1 for i in answered if i in rows)  # exactly once, the killed one's too
    finally:
        llm.stop()
        stop_all(gateways)


def test_replicas_on_redis_cluster(upstream, world: dict[str, Any], prefix: str, cluster: list[int]) -> None:  # noqa: F811
    seeds = ",".join(f"127.0.0.1:{p}" for p in cluster)
    gateways = start_replicas(upstream, world, f"redis://{seeds}", prefix, redis_cluster=True)
    llm = Balancer([g.config["listeners"]["llm"]["port"] for g in gateways])
    try:
        results = burst(llm.port, ALICE, "fast-gpt", 200)
        ok = [r for r in results if isinstance(r, httpx.Response) and r.status_code == 200]
        assert 9 <= len(ok) <= 10, len(ok)
        assert set(llm.served.values()) == {0, 1, 2}
        # The bundle is published on the Cluster too.
        bundle = httpx.get(f"http://127.0.0.1:{gateways[1].egress_port}/ca.pem").content
        assert len(x509.load_pem_x509_certificates(bundle)) == 6
    finally:
        llm.stop()
        stop_all(gateways)
