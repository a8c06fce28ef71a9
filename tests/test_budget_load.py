"""Budgets that hold when the network and the machine do not: late replies, a stalled event loop,
a silent dead peer, Redis Cluster with a slot moving under load, TLS, AUTH, and bounded memory.

Real tollgate processes, real Redis servers (the shared one behind a delaying proxy, or private
ones started here), real HTTP clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from budget.resp import key_slot
from tests.conftest import ALICE, BOB, Gateway
from tests.https_upstream import make_test_pki
from tests.tcp_proxy import TcpProxy
from tests.test_budget_llm import MAX_TOKENS, MESSAGES, budget_config, chat, redis_server
from tests.upstream import wait_until

REDIS = redis.Redis(host="127.0.0.1", port=6379)


def usage(prefix: str, suffix: str, client: redis.Redis = REDIS) -> tuple[int, int]:
    """(spent, reserved) in nano-USD of one counter, read straight from Redis."""
    spent, reserved = client.hmget(f"{prefix}{{acme}}:c:{suffix}", "spent", "reserved")
    return int(spent or 0), int(reserved or 0)


def bob_total(prefix: str, client: redis.Redis = REDIS) -> tuple[int, int]:
    return usage(prefix, "agent:bob:total", client)


def cost_nano(gw: Gateway, response: httpx.Response) -> int:
    from budget import to_nano

    cost = gw.audit_for(response.headers["x-request-id"])["cost_usd"]
    return to_nano(cost) if cost else 0


def metric(gw: Gateway, name: str) -> float:
    total = 0.0
    for line in httpx.get(gw.admin_url + "/metrics").text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def burst(gw: Gateway, token: str, n: int = 200) -> list[int]:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n), timeout=60) as client:
            body = {"model": "fast-gpt", "messages": MESSAGES, "max_tokens": MAX_TOKENS}
            headers = {"Authorization": f"Bearer {token}"}
            url = gw.base_url + "/chat/completions"
            return await asyncio.gather(*(client.post(url, json=body, headers=headers) for _ in range(n)))

    return [r.status_code for r in asyncio.run(run())]


def workers_of(gw: Gateway) -> list[int]:
    assert gw.proc is not None
    out = subprocess.run(["pgrep", "-P", str(gw.proc.pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def cleanup(prefix: str, client: redis.Redis = REDIS) -> None:
    keys = list(client.scan_iter(prefix + "*"))
    if keys:
        client.delete(*keys)


@contextlib.contextmanager
def serving(workdir: Path, config: dict[str, Any], prefix: str | None = None, workers: int = 1) -> Iterator[Gateway]:
    """A gateway for the body of a `with`: stopped, and the test's Redis keys removed, however it ends."""
    gw = Gateway(workdir, config, workers=workers).start()
    try:
        yield gw
    finally:
        gw.stop()
        if prefix is not None:
            cleanup(prefix)


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    p = TcpProxy("127.0.0.1", 6379).start()
    yield p
    p.stop()


@pytest.fixture
def cpu_hog() -> Iterator[None]:
    """A busy machine: one process spinning on a core beside tollgate."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    hog.kill()
    hog.wait()


def test_late_replies_charge_exactly_once_and_hold_nothing(upstream, tmp_path: Path, prefix: str, proxy: TcpProxy):
    """Redis applies the reserve and the settle, but its replies come 150 ms late (timeout 25 ms)."""
    config = budget_config(upstream.base_url, f"redis://127.0.0.1:{proxy.port}/0", prefix, timeout_ms=25)
    with serving(tmp_path, config, prefix) as gw:
        warm = chat(gw, BOB)
        assert warm.status_code == 200 and "x-tollgate-budget-remaining" in warm.headers
        charged = [cost_nano(gw, warm)]
        assert wait_until(lambda: bob_total(prefix) == (charged[0], 0))
        proxy.delay_s = 0.15
        late = [chat(gw, BOB) for _ in range(5)]  # the first three open the breaker; the rest pass at once
        proxy.delay_s = 0.0
        for r in late:
            assert r.status_code == 200 and "x-tollgate-budget-remaining" not in r.headers
            assert gw.audit_for(r.headers["x-request-id"])["detail"].get("budget_unchecked")
            charged.append(cost_nano(gw, r))
        # Every request charged once, whatever Redis applied behind the timeouts; nothing held.
        assert wait_until(lambda: bob_total(prefix) == (sum(charged), 0), timeout=10), (bob_total(prefix), charged)
        time.sleep(1.5)  # one more retry round must change nothing
        assert bob_total(prefix) == (sum(charged), 0)
        assert metric(gw, "tollgate_budget_store_errors_total") >= 3
        assert metric(gw, "tollgate_budget_settles_unresolved_total") == 0


def test_a_late_reserve_refused_by_fail_closed_is_released(
    upstream, tmp_path: Path, prefix: str, proxy: TcpProxy
) -> None:
    config = budget_config(upstream.base_url, f"redis://127.0.0.1:{proxy.port}/0", prefix, timeout_ms=25)
    config["budget"]["fail_closed"] = True
    with serving(tmp_path, config, prefix) as gw:
        warm = chat(gw, BOB)
        assert warm.status_code == 200
        spent = cost_nano(gw, warm)
        proxy.delay_s = 0.15
        refused = chat(gw, BOB)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "budget_store_unavailable"
        time.sleep(0.3)  # the late reserve lands in Redis
        proxy.delay_s = 0.0
        assert wait_until(lambda: bob_total(prefix)[1] == 0, timeout=10), bob_total(prefix)  # nothing held
        # Cancelled with the client (nothing charged), or finished first (charged once, like the first).
        assert bob_total(prefix)[0] in (spent, 2 * spent), (bob_total(prefix), spent)


def test_a_stalled_event_loop_on_a_busy_machine_does_not_open_the_budget(
    upstream, tmp_path: Path, prefix: str, cpu_hog: None
) -> None:
    """Workers stopped for 60 ms at a time (longer than the 25 ms store timeout) during the burst."""
    config = budget_config(upstream.base_url, "redis://127.0.0.1:6379/0", prefix, timeout_ms=25)
    gw = Gateway(tmp_path, config, workers=2).start()
    done = threading.Event()

    def stall() -> None:
        pids = workers_of(gw)
        while not done.is_set():
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            time.sleep(0.06)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            time.sleep(0.01)

    staller = threading.Thread(target=stall)
    try:
        assert len(workers_of(gw)) == 2
        staller.start()
        statuses = burst(gw, ALICE)
        done.set()
        staller.join()
        assert statuses.count(200) == 10 and statuses.count(429) == 190, statuses
        errors = [m for m in httpx.get(gw.admin_url + "/metrics").text.splitlines() if "store_errors_total{" in m]
        assert metric(gw, "tollgate_budget_store_errors_total") == 0, errors
        assert not [e for e in gw.audit_events() if e["detail"].get("budget_unchecked")]
        assert metric(gw, "tollgate_event_loop_lag_seconds_count") > 0
    finally:
        done.set()
        if staller.is_alive():
            staller.join()
        gw.stop()
        cleanup(prefix)


def test_a_silent_dead_store_opens_the_breaker_and_spend_is_replayed_once(
    upstream, tmp_path: Path, prefix: str, proxy: TcpProxy
) -> None:
    config = budget_config(upstream.base_url, f"redis://127.0.0.1:{proxy.port}/0", prefix, timeout_ms=25)
    with serving(tmp_path, config, prefix) as gw:
        warm = chat(gw, BOB)
        charged = [cost_nano(gw, warm)]
        proxy.blackhole = True  # connected, and nothing ever comes back
        for _ in range(6):
            start = time.monotonic()
            r = chat(gw, BOB)
            assert r.status_code == 200 and time.monotonic() - start < 1.5
            assert gw.audit_for(r.headers["x-request-id"])["detail"].get("budget_unchecked")
            charged.append(cost_nano(gw, r))
        proxy.blackhole = False
        assert wait_until(lambda: bob_total(prefix) == (sum(charged), 0), timeout=10), (bob_total(prefix), charged)
        assert chat(gw, BOB).status_code == 200 and proxy.connections >= 2  # the dead connection was replaced


def _cluster_port() -> int:
    """A port whose cluster bus port (+10000) is free too."""
    while True:
        port = random.randint(20000, 30000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[int]]:
    ports = [_cluster_port() for _ in range(3)]
    procs = [_cluster_node(p, tmp_path) for p in ports]
    try:
        for p in ports:
            assert wait_until(lambda p=p: _ping(p))
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-replicas", "0",
             "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        assert wait_until(lambda: all(_cluster_ok(p) for p in ports), timeout=15)
        yield ports
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _cluster_node(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
         "--cluster-config-file", str(tmp / f"nodes-{port}.conf"), "--save", "", "--appendonly", "no",
         "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _ping(port: int) -> bool:
    return subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout == b"PONG\n"


def _cluster_ok(port: int) -> bool:
    info = subprocess.run(["redis-cli", "-p", str(port), "cluster", "info"], capture_output=True, text=True).stdout
    return "cluster_state:ok" in info


def _move_slot(ports: list[int], slot: int) -> None:
    """Migrate one slot, keys included, to another node (what `redis-cli --cluster reshard` does)."""
    nodes = {p: redis.Redis(port=p) for p in ports}
    ids = {p: nodes[p].execute_command("CLUSTER", "MYID").decode() for p in ports}
    owner = next(p for p in ports if slot in _slots_of(nodes[p], ids[p]))
    target = next(p for p in ports if p != owner)
    nodes[target].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[owner])
    nodes[owner].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    while keys := nodes[owner].execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        nodes[owner].execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
    for p in ports:
        nodes[p].execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])
    for n in nodes.values():
        n.close()


def _slots_of(node: redis.Redis, node_id: str) -> set[int]:
    owned: set[int] = set()
    for start, end, primary, *_ in node.execute_command("CLUSTER", "SLOTS"):
        if primary[2].decode() == node_id:
            owned.update(range(start, end + 1))
    return owned


def test_redis_cluster_holds_the_burst_across_a_slot_move(upstream, tmp_path: Path, prefix: str, cluster: list[int]):
    seeds = ",".join(f"127.0.0.1:{p}" for p in cluster[:2])
    config = budget_config(upstream.base_url, f"redis://{seeds}", prefix)
    config["budget"]["redis_cluster"] = True
    with serving(tmp_path, config, workers=2) as gw:
        first = [chat(gw, ALICE).status_code for _ in range(4)]
        assert first == [200] * 4
        _move_slot(cluster, key_slot("{acme}"))  # the org's keys now live on another node
        statuses = burst(gw, ALICE)
        assert statuses.count(200) == 6 and statuses.count(429) == 194, statuses
        assert metric(gw, "tollgate_budget_store_errors_total") == 0
        assert chat(gw, BOB).status_code == 200


def test_rediss_verifies_the_server_and_enforces_limits(upstream, tmp_path: Path, prefix: str):
    ca, _ = make_test_pki(tmp_path, ["localhost"])
    port = _cluster_port()
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(tmp_path / "origin-leaf.pem"), "--tls-key-file", str(tmp_path / "origin-leaf.pem"),
         "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        tls = redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=str(ca))
        assert wait_until(lambda: _answers(tls))
        config = budget_config(upstream.base_url, f"rediss://localhost:{port}/0", prefix)
        config["budget"]["redis_ca_file"] = str(ca)
        (tmp_path / "good").mkdir()
        with serving(tmp_path / "good", config) as gw:
            statuses = [chat(gw, ALICE).status_code for _ in range(12)]
            assert statuses == [200] * 10 + [429] * 2
            assert usage(prefix, "agent:alice:total", tls) == (0, 0)  # alice has no own limit
            assert tls.exists(f"{prefix}{{acme}}:recs")
        # A server whose certificate the configured CA did not sign is not trusted: fail open, counted.
        (tmp_path / "other").mkdir()
        (tmp_path / "bad").mkdir()
        other_ca, _ = make_test_pki(tmp_path / "other", ["localhost"])
        config["budget"]["redis_ca_file"] = str(other_ca)
        config["budget"]["key_prefix"] = prefix + "x:"
        with serving(tmp_path / "bad", config) as gw:
            r = chat(gw, ALICE)
            assert r.status_code == 200 and gw.audit_for(r.headers["x-request-id"])["detail"].get("budget_unchecked")
            assert metric(gw, "tollgate_budget_store_errors_total") >= 1
        tls.close()
    finally:
        server.kill()
        server.wait()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_scripts_load_once_per_connection_and_bad_auth_leaks_nothing(upstream, tmp_path: Path, prefix: str):
    port = _cluster_port()
    server = redis_server(port, tmp_path, "--requirepass", "s3cret-pw")
    admin = redis.Redis(port=port, password="s3cret-pw")
    try:
        config = budget_config(upstream.base_url, f"redis://:s3cret-pw@127.0.0.1:{port}/0", prefix)
        with serving(tmp_path, config, workers=2) as gw:
            statuses = burst(gw, ALICE)
            assert statuses.count(200) == 10
            stats: dict[str, Any] = admin.info("commandstats")
            # Two scripts per connection, one connection per worker: not one SCRIPT LOAD per request.
            loads = stats["cmdstat_script|load"]["calls"]  # Redis 7 names subcommands
            assert 2 <= loads <= 4, loads
            assert "s3cret-pw" not in gw.log()
        # An ACL user with its own password (Redis 6+), as managed Redis services hand them out.
        admin.execute_command("ACL", "SETUSER", "tollgate", "on", ">acl-pw", "~*", "+@all")
        config = budget_config(upstream.base_url, f"redis://tollgate:acl-pw@127.0.0.1:{port}/0", prefix + "acl:")
        (tmp_path / "acl").mkdir()
        with serving(tmp_path / "acl", config) as gw:
            checked = chat(gw, ALICE)
            assert checked.status_code == 200 and "x-tollgate-budget-remaining" in checked.headers
        config = budget_config(upstream.base_url, f"redis://:wrong-pw@127.0.0.1:{port}/0", prefix)
        (tmp_path / "bad").mkdir()
        with serving(tmp_path / "bad", config) as gw:
            for _ in range(12):
                r = chat(gw, ALICE)
                assert r.status_code == 200  # fail open: the store refuses us, the agent is not punished
            assert admin.info("clients")["connected_clients"] <= 2  # ours, and no transport left per attempt
            assert metric(gw, "tollgate_budget_store_errors_total") >= 1
            assert "wrong-pw" not in gw.log()
    finally:
        admin.close()
        server.kill()
        server.wait()


def test_a_store_that_stops_answering_does_not_open_a_spent_budget(
    upstream, tmp_path: Path, prefix: str, proxy: TcpProxy
) -> None:
    """Fail open, but not blind: a worker lets through at most what the store last said was left."""
    config = budget_config(upstream.base_url, f"redis://127.0.0.1:{proxy.port}/0", prefix, timeout_ms=25)
    with serving(tmp_path, config, prefix) as gw:
        assert chat(gw, ALICE).status_code == 200  # the store says: room for nine more
        proxy.delay_s = 0.15  # from now on every answer is too late
        statuses = burst(gw, ALICE, 40)
        assert statuses.count(200) <= 9 and statuses.count(429) >= 31, statuses
        refused = chat(gw, ALICE)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "team_daily"
        assert metric(gw, "tollgate_budget_store_errors_total") >= 1


def test_a_client_gone_during_the_reserve_leaves_nothing_held(
    upstream, tmp_path: Path, prefix: str, proxy: TcpProxy
) -> None:
    config = budget_config(upstream.base_url, f"redis://127.0.0.1:{proxy.port}/0", prefix, timeout_ms=1000)
    with serving(tmp_path, config, prefix) as gw:
        assert chat(gw, BOB).status_code == 200
        assert wait_until(lambda: bob_total(prefix) != (0, 0) and bob_total(prefix)[1] == 0)  # settled
        spent = bob_total(prefix)[0]
        proxy.delay_s = 0.3  # the reserve is on the wire, its answer not back yet, when the client leaves
        body = json.dumps({"model": "fast-gpt", "messages": MESSAGES, "max_tokens": MAX_TOKENS}).encode()
        port = int(gw.base_url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {BOB}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            time.sleep(0.1)
        time.sleep(0.5)
        proxy.delay_s = 0.0
        assert wait_until(lambda: bob_total(prefix)[1] == 0, timeout=10), bob_total(prefix)  # nothing held
        # Cancelled with the client (nothing charged), or finished first (charged once, like the first).
        assert bob_total(prefix)[0] in (spent, 2 * spent), (bob_total(prefix), spent)
