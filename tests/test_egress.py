"""The egress door end to end: curl and Python clients through HTTPS_PROXY to local origins."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from egress.splice import SPLICE_BYTES
from tests.conftest import ALICE, BOB, Gateway, base_config
from tests.https_upstream import EndlessOrigin, Origin, make_test_pki
from tests.upstream import free_port, wait_until

GITHUB_SECRET = "ghp_injectedSecretValue0123456789abcdef"
NAMES = ["api.test", "tunnel.test", "other.test", "private.test", "endless.test"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    return make_test_pki(tmp_path_factory.mktemp("pki"), NAMES)


@pytest.fixture(scope="module")
def origin(pki: tuple[Path, ssl.SSLContext]) -> Iterator[Origin]:
    o = Origin(pki[1]).start()
    yield o
    o.stop()


@pytest.fixture(scope="module")
def plain_origin() -> Iterator[Origin]:
    o = Origin(None).start()
    yield o
    o.stop()


@pytest.fixture(scope="module")
def endless(pki: tuple[Path, ssl.SSLContext]) -> Iterator[EndlessOrigin]:
    o = EndlessOrigin(pki[1]).start()
    yield o
    o.stop()


def egress_config(
    upstream_url: str,
    origin: Origin,
    plain: Origin,
    ca_bundle: Path,
    workdir: Path,
    endless: EndlessOrigin | None = None,
) -> dict:
    config = base_config(upstream_url, free_port(), free_port())
    config["secrets"] = {"github": GITHUB_SECRET}
    config["egress"] = {
        "upstream_ca_bundle": str(ca_bundle),
        "ca_cert_path": str(workdir / "tollgate-ca.pem"),
        "resolve": {name: ["127.0.0.1"] for name in NAMES},
    }
    port = origin.port
    config["orgs"][0]["egress"] = {
        "rules": [
            {"name": "github-api", "hosts": ["api.test"], "ports": [port], "mode": "intercept",
             "methods": ["GET", "POST"], "paths": ["/repos/**", "/user"], "allow_private": True,
             "inject": {"Authorization": "Bearer {secret:github}"}},
            {"name": "tunnel", "hosts": ["tunnel.test"], "ports": [port], "allow_private": True},
            {"name": "no-private", "hosts": ["private.test"], "ports": [port]},
            {"name": "plain", "hosts": ["other.test"], "ports": [plain.port], "mode": "intercept",
             "allow_private": True, "methods": ["GET"]},
            {"name": "race", "hosts": ["*.race.test"], "ports": [port], "mode": "intercept"},
        ]
    }  # fmt: skip
    if endless is not None:
        config["orgs"][0]["egress"]["rules"].append(
            {"name": "endless", "hosts": ["endless.test"], "ports": [endless.port], "mode": "intercept",
             "allow_private": True}
        )  # fmt: skip
    return config


@pytest.fixture(scope="module")
def gw(
    upstream,
    origin: Origin,
    plain_origin: Origin,
    endless: EndlessOrigin,
    pki,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("egress")
    g = Gateway(workdir, egress_config(upstream.base_url, origin, plain_origin, pki[0], workdir, endless)).start()
    yield g
    g.stop()


@pytest.fixture(autouse=True)
def _clear_origins(origin: Origin, plain_origin: Origin) -> None:
    origin.seen.clear()
    plain_origin.seen.clear()


def last_event(gw: Gateway, **match: str) -> dict:
    """The newest audit row whose fields equal `match`."""
    return gw.audit_where(lambda e: all(e.get(k) == v for k, v in match.items()))[-1]


def proxy_url(gw: Gateway, agent: str = "alice", token: str = ALICE) -> str:
    return f"http://{agent}:{token}@127.0.0.1:{gw.egress_port}"


def ca_file(gw: Gateway) -> Path:
    return gw.workdir / "tollgate-ca.pem"


def curl(*args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, timeout=timeout)


def test_ca_pem_is_served_without_auth_and_matches_the_written_file(gw: Gateway):
    r = httpx.get(f"http://127.0.0.1:{gw.egress_port}/ca.pem")
    assert r.status_code == 200 and r.text.startswith("-----BEGIN CERTIFICATE-----")
    assert r.content == ca_file(gw).read_bytes()
    assert b"PRIVATE KEY" not in r.content


def test_intercepted_get_injects_the_credential_and_replaces_the_clients(gw: Gateway, origin: Origin):
    url = f"https://api.test:{origin.port}/repos/acme/widgets?page=2"
    out = curl("-x", proxy_url(gw), "--cacert", str(ca_file(gw)), "-H", "Authorization: Bearer agent-forged",
               "-H", "Impersonate-User: admin", "-D", "-", url)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert '"path": "/repos/acme/widgets?page=2"' in out.stdout or '"path":"/repos/acme/widgets?page=2"' in out.stdout
    seen = origin.seen[-1]
    assert seen.headers["authorization"] == f"Bearer {GITHUB_SECRET}"
    assert "impersonate-user" not in seen.headers and "proxy-authorization" not in seen.headers
    assert GITHUB_SECRET not in out.stdout  # the agent never sees the secret
    event = last_event(gw, surface="egress", action="GET")
    assert event["result"] == "allowed" and event["detail"]["injected"] == ["github"]
    # The secret's name is audited, its value nowhere: not in audit rows, not in the log.
    assert GITHUB_SECRET not in (gw.workdir / "var" / "audit.jsonl").read_text()
    assert GITHUB_SECRET not in gw.log() and ALICE not in gw.log()
    assert "page=2" not in event["resource"]  # no query strings in audit rows


def test_python_client_through_https_proxy_with_keep_alive(gw: Gateway, origin: Origin):
    with httpx.Client(proxy=proxy_url(gw), verify=ssl.create_default_context(cafile=str(ca_file(gw)))) as c:
        for i in range(5):
            r = c.post(f"https://api.test:{origin.port}/repos/x/issues", json={"n": i})
            assert r.status_code == 200 and r.json()["got"] > 0
    assert [s.method for s in origin.seen] == ["POST"] * 5


def test_denied_host_is_403_with_a_reason(gw: Gateway):
    r = curl("-x", proxy_url(gw), "--cacert", str(ca_file(gw)), "https://example.invalid/", "-o", "/dev/null",
             "-w", "%{http_connect}")  # fmt: skip
    assert r.stdout.strip() == "403"
    assert last_event(gw, surface="egress", result="denied")["detail"]["reason"] == "no_rule_for_host"


@pytest.mark.parametrize(
    ("method", "path", "reason"),
    [("DELETE", "/repos/acme/widgets", "method_not_allowed"), ("GET", "/admin", "path_not_allowed"),
     ("GET", "/repos/../admin", "path_not_allowed"), ("GET", "/repos%2F..%2Fadmin", "bad_path:encoded_slash")],
)  # fmt: skip
def test_denied_method_or_path_is_403_inside_the_tunnel(
    gw: Gateway, origin: Origin, method: str, path: str, reason: str
):
    out = curl("-x", proxy_url(gw), "--cacert", str(ca_file(gw)), "--path-as-is", "-X", method, "-D", "-",
               "-o", "/dev/null", f"https://api.test:{origin.port}{path}")  # fmt: skip
    assert "\nHTTP/1.1 403" in out.stdout, out.stdout + out.stderr  # after the CONNECT's own 200
    assert f"x-tollgate-reason: {reason}" in out.stdout.lower()
    assert origin.seen == []


def test_tunnel_mode_passes_tls_through_untouched(gw: Gateway, origin: Origin, pki):
    # The client trusts the origin's own CA: tollgate did not terminate TLS.
    out = curl("-x", proxy_url(gw), "--cacert", str(pki[0]), f"https://tunnel.test:{origin.port}/anything")
    assert out.returncode == 0, out.stderr
    assert "authorization" not in origin.seen[-1].headers
    event = last_event(gw, action="tunnel")
    assert event["result"] == "allowed" and event["detail"]["bytes_in"] > 0


def test_missing_or_bad_proxy_credentials_get_407(gw: Gateway, origin: Origin):
    for proxy in (
        f"http://127.0.0.1:{gw.egress_port}",
        proxy_url(gw, "alice", "tg-wrong"),
        proxy_url(gw, "bob", ALICE),
    ):
        out = curl("-x", proxy, "--cacert", str(ca_file(gw)), f"https://api.test:{origin.port}/user",
                   "-o", "/dev/null", "-w", "%{http_connect}")  # fmt: skip
        assert out.stdout.strip() == "407", proxy
    raw = _raw_connect(gw, f"api.test:{origin.port}", auth=None)
    assert raw.startswith(b"HTTP/1.1 407") and b"proxy-authenticate: Basic" in raw.lower().replace(b"basic", b"Basic")


def _raw_connect(gw: Gateway, authority: str, auth: tuple[str, str] | None = ("alice", ALICE)) -> bytes:
    with socket.create_connection(("127.0.0.1", gw.egress_port), timeout=5) as s:
        head = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        if auth:
            head += "Proxy-Authorization: Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() + "\r\n"
        s.sendall(head.encode() + b"\r\n")
        return s.recv(4096)


@pytest.mark.parametrize(
    "authority",
    ["api.test.:443", "127.1:443", "0x7f.0.0.1:443", "2130706433:443", "[::ffff:127.0.0.1]:443", "api%2etest:443",
     "api.test\x00.evil:443", "api.test:0443", "api.test:+443", "user@api.test:443", "api.test", "APİ.test:443"],
)  # fmt: skip
def test_odd_authorities_are_refused(gw: Gateway, authority: str):
    reply = _raw_connect(gw, authority)
    assert reply.split(b" ")[1] in (b"400", b"403"), reply


def test_cr_lf_in_the_authority_cannot_smuggle_a_header(gw: Gateway):
    reply = _raw_connect(gw, "api.test:443\r\nX-Evil: 1")
    assert reply.split(b" ")[1] in (b"400", b"403")


def test_private_target_via_dns_is_refused_without_an_explicit_rule(gw: Gateway, origin: Origin):
    reply = _raw_connect(gw, f"private.test:{origin.port}")
    assert reply.startswith(b"HTTP/1.1 403") and b"address_refused:loopback" in reply


def _tls_through(gw: Gateway, authority: str, server_hostname: str, cafile: Path) -> ssl.SSLSocket:
    s = socket.create_connection(("127.0.0.1", gw.egress_port), timeout=5)
    auth = base64.b64encode(f"alice:{ALICE}".encode()).decode()
    s.sendall(
        f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode()
    )
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.check_hostname = False  # the point is what the proxy does with this SNI
    return ctx.wrap_socket(s, server_hostname=server_hostname)


def test_sni_that_differs_from_the_connect_host_is_refused(gw: Gateway, origin: Origin, pki):
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _tls_through(gw, f"api.test:{origin.port}", "other.test", ca_file(gw)).close()
    # In tunnel mode too: no domain fronting through an allowed name.
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls = _tls_through(gw, f"tunnel.test:{origin.port}", "api.test", pki[0])
        tls.sendall(b"GET / HTTP/1.1\r\nHost: api.test\r\n\r\n")
        if not tls.recv(100):
            raise ConnectionError("closed")
    assert origin.seen == []


def test_host_header_must_match_the_connect_host(gw: Gateway, origin: Origin):
    tls = _tls_through(gw, f"api.test:{origin.port}", "api.test", ca_file(gw))
    tls.sendall(f"GET /user HTTP/1.1\r\nHost: other.test:{origin.port}\r\n\r\n".encode())
    reply = tls.recv(4096)
    tls.close()
    assert reply.startswith(b"HTTP/1.1 403") and b"host_mismatch" in reply
    assert origin.seen == []


@pytest.mark.parametrize(
    "request_head",
    [
        "POST /user HTTP/1.1\r\nHost: api.test:{p}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /user HTTP/1.1\r\nHost: api.test:{p}\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
        "POST /user HTTP/1.1\r\nHost: api.test:{p}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        "GET /user HTTP/1.1\r\nHost: api.test:{p}\r\nHost: other.test\r\n\r\n",
    ],
)
def test_ambiguous_framing_is_rejected(gw: Gateway, origin: Origin, request_head: str):
    tls = _tls_through(gw, f"api.test:{origin.port}", "api.test", ca_file(gw))
    tls.sendall(request_head.format(p=origin.port).encode())
    reply = tls.recv(4096)
    tls.close()
    assert reply.split(b" ")[1] in (b"400", b"403"), reply
    assert origin.seen == []


def test_plain_http_requests_follow_the_same_rules(gw: Gateway, plain_origin: Origin):
    ok = curl("-x", proxy_url(gw), f"http://other.test:{plain_origin.port}/status")
    assert ok.returncode == 0 and '"path"' in ok.stdout
    assert plain_origin.seen[-1].path == "/status" and "proxy-authorization" not in plain_origin.seen[-1].headers
    denied = curl("-x", proxy_url(gw), "-X", "POST", "-o", "/dev/null", "-w", "%{http_code}",
                  f"http://other.test:{plain_origin.port}/status")  # fmt: skip
    assert denied.stdout == "403"


def test_a_plain_http_request_refused_by_host_is_audited_as_its_method_and_path(gw: Gateway):
    r = httpx.get("http://nowhere.test/secret/path?token=abc", proxy=proxy_url(gw))
    assert r.status_code == 403
    event = gw.audit_for(r.headers["x-request-id"])
    assert (event["action"], event["resource"], event["result"]) == ("GET", "nowhere.test:80/secret/path", "denied")


def test_large_download_streams_through_the_interceptor(gw: Gateway, origin: Origin):
    verify = ssl.create_default_context(cafile=str(ca_file(gw)))
    with (
        httpx.Client(proxy=proxy_url(gw), verify=verify) as c,
        c.stream("GET", f"https://api.test:{origin.port}/repos/big/{20 * 1024 * 1024}") as r,
    ):
        total = sum(len(chunk) for chunk in r.iter_bytes())
    assert total == 20 * 1024 * 1024


def test_websocket_upgrade_is_relayed_with_the_credential_injected(gw: Gateway, origin: Origin):
    async def talk() -> list[str]:
        ctx = ssl.create_default_context(cafile=str(ca_file(gw)))
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"wss://api.test:{origin.port}/repos/ws", proxy=proxy_url(gw), ssl=ctx) as ws,
        ):
            replies = []
            for text in ("one", "two"):
                await ws.send_str(text)
                replies.append((await ws.receive(timeout=5)).data)
            return replies

    assert asyncio.run(talk()) == ["echo: one", "echo: two"]
    assert origin.seen[-1].method == "WEBSOCKET"
    assert origin.seen[-1].headers["authorization"] == f"Bearer {GITHUB_SECRET}"


def test_reload_that_removes_a_rule_closes_open_tunnels(upstream, origin: Origin, plain_origin: Origin, pki, tmp_path):
    config = egress_config(upstream.base_url, origin, plain_origin, pki[0], tmp_path)
    g = Gateway(tmp_path, config).start()
    try:
        tls = _tls_through(g, f"api.test:{origin.port}", "api.test", tmp_path / "tollgate-ca.pem")
        tls.sendall(f"GET /user HTTP/1.1\r\nHost: api.test:{origin.port}\r\n\r\n".encode())
        first = b""
        while b'"got"' not in first:
            first += tls.recv(4096)
        assert first.startswith(b"HTTP/1.1 200")
        changed = copy.deepcopy(config)
        changed["orgs"][0]["egress"]["rules"] = changed["orgs"][0]["egress"]["rules"][1:]
        g.write_config(changed)
        g.signal(signal.SIGHUP)
        assert wait_until(lambda: "config reloaded" in g.log())
        tls.settimeout(3)
        try:
            tls.sendall(f"GET /user HTTP/1.1\r\nHost: api.test:{origin.port}\r\n\r\n".encode())
            assert tls.recv(4096) == b""
        except (ssl.SSLError, ConnectionError, OSError):
            pass
    finally:
        g.stop()


def test_org_rules_apply_to_every_agent_of_the_org(gw: Gateway, origin: Origin):
    out = curl("-x", proxy_url(gw, "bob", BOB), "--cacert", str(ca_file(gw)), f"https://api.test:{origin.port}/user")
    assert out.returncode == 0


def _private_keys(data: bytes) -> Iterator[bytes]:
    start = 0
    while (i := data.find(b"-----BEGIN", start)) >= 0:
        end = data.find(b"-----END", i)
        end = data.find(b"-----", end + 8) + 5 if end >= 0 else -1
        if end < 5:
            return
        block = data[i:end]
        if b"PRIVATE KEY-----" in block[:40]:
            yield block
        start = end


def test_the_ca_private_key_is_never_written_to_disk(gw: Gateway):
    """Every PEM private key in the working tree and temp dirs is checked against the CA's public key."""
    ca_public = (
        x509.load_pem_x509_certificate(ca_file(gw).read_bytes())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    scanned = 0
    for root in (gw.workdir.parent, Path("/tmp"), Path.cwd()):
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in (".venv", ".git", "node_modules", "anchors")]
            for name in files:
                try:
                    data = (Path(dirpath) / name).read_bytes()[:4_000_000]
                except OSError:
                    continue
                scanned += 1
                assert ca_public not in data or name.endswith(".pem")  # DER of the public key is fine in a cert
                for block in _private_keys(data):
                    try:
                        key = serialization.load_pem_private_key(block, password=None)
                    except (ValueError, TypeError):
                        continue
                    public = key.public_key().public_bytes(
                        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                    )
                    assert public != ca_public, f"the CA private key is in {dirpath}/{name}"
    assert scanned > 10
    # The CA bundle on disk (the current CA and the next one) is the public part only.
    assert ca_file(gw).read_text().count("BEGIN CERTIFICATE") == 2
    assert b"PRIVATE" not in ca_file(gw).read_bytes()


@contextlib.contextmanager
def _started(upstream, origin: Origin, plain_origin: Origin, pki, tmp_path, **egress: object) -> Iterator[Gateway]:
    """A gateway on the egress test config with `egress` settings changed, stopped afterwards."""
    config = egress_config(upstream.base_url, origin, plain_origin, pki[0], tmp_path)
    config["egress"].update(egress)
    g = Gateway(tmp_path, config).start()
    try:
        yield g
    finally:
        g.stop()


def test_tunnel_byte_cap_and_idle_timeout_end_tunnels(upstream, origin: Origin, plain_origin: Origin, pki, tmp_path):
    with _started(upstream, origin, plain_origin, pki, tmp_path, tunnel_max_bytes=200_000, idle_timeout_s=0.5) as g:
        small = curl("-x", proxy_url(g), "--cacert", str(pki[0]), f"https://tunnel.test:{origin.port}/x")
        assert small.returncode == 0, small.stderr
        big = curl("-x", proxy_url(g), "--cacert", str(pki[0]), "-o", "/dev/null",
                   f"https://tunnel.test:{origin.port}/repos/big/{2_000_000}")  # fmt: skip
        assert big.returncode != 0  # cut at the byte cap, well before 2 MB
        event = last_event(g, action="tunnel", result="denied")
        assert event["detail"]["cut"] == "byte_cap" and 0 < event["detail"]["bytes_in"] <= 200_000
        assert event["request_id"].startswith("req_")
        started = time.monotonic()
        tls = _tls_through(g, f"tunnel.test:{origin.port}", "tunnel.test", pki[0])
        tls.settimeout(5)
        assert tls.recv(100) == b""  # nothing sent: the idle tunnel is closed
        assert time.monotonic() - started < 3


def test_bulk_tunnels_move_to_splice_intact_and_keep_their_byte_cap(
    upstream, origin: Origin, plain_origin: Origin, pki, tmp_path
):
    """Past KERNEL_AFTER bytes a tunnel relays with splice(2): bytes arrive intact, the cap still cuts."""
    with _started(upstream, origin, plain_origin, pki, tmp_path, tunnel_max_bytes=3_000_000) as g:
        body = tmp_path / "body"
        url = f"https://tunnel.test:{origin.port}/repos/big/"
        whole = curl("-x", proxy_url(g), "--cacert", str(pki[0]), "-o", str(body), url + str(2_000_000))
        assert whole.returncode == 0, whole.stderr
        assert body.stat().st_size == 2_000_000  # and intact: TLS end to end fails on any changed byte
        event = last_event(g, action="tunnel", result="allowed")
        assert event["detail"]["bytes_in"] > 2_000_000 and "cut" not in event["detail"]
        cut = curl("-x", proxy_url(g), "--cacert", str(pki[0]), "-o", "/dev/null", url + str(6_000_000))
        assert cut.returncode != 0
        event = last_event(g, action="tunnel", result="denied")
        # The read that would pass the cap is dropped whole: up to one splice's worth below it.
        moved = event["detail"]["bytes_in"] + event["detail"]["bytes_out"]
        assert event["detail"]["cut"] == "byte_cap" and 3_000_000 - SPLICE_BYTES < moved <= 3_000_000, moved


def test_an_origin_slower_than_the_timeout_is_a_504_and_an_idle_tunnel_is_closed(
    upstream, origin: Origin, plain_origin: Origin, pki, tmp_path
):
    """The request loop's timeouts (egress.http1.Watchdog): the upstream's answer, then keep-alive idleness."""

    def get(tls: ssl.SSLSocket, path: str) -> bytes:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: api.test:{origin.port}\r\n\r\n".encode())
        return tls.recv(4096)

    with _started(upstream, origin, plain_origin, pki, tmp_path, idle_timeout_s=0.5) as g:
        for idle in (False, True):
            tls = _tls_through(g, f"api.test:{origin.port}", "api.test", ca_file(g))
            tls.settimeout(5)
            assert get(tls, "/repos/x").startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            if idle:
                assert tls.recv(4096) == b""  # idle past the limit: closed by the proxy
                assert 0.4 < time.monotonic() - started < 2
            else:
                reply = get(tls, "/repos/slow/3")
                assert reply.startswith(b"HTTP/1.1 504") and b"upstream_timeout" in reply, reply
                assert time.monotonic() - started < 2
            tls.close()


def test_sni_carrying_the_port_is_the_same_name_not_fronting(gw: Gateway, origin: Origin):
    # Some clients (hey, from Go's req.Host) send "name:port" as the server name.
    tls = _tls_through(gw, f"api.test:{origin.port}", f"api.test:{origin.port}", ca_file(gw))
    tls.sendall(f"GET /user HTTP/1.1\r\nHost: api.test:{origin.port}\r\n\r\n".encode())
    reply = tls.recv(4096)
    tls.close()
    assert reply.startswith(b"HTTP/1.1 200")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _tls_through(gw, f"api.test:{origin.port}", f"other.test:{origin.port}", ca_file(gw)).close()
    event = last_event(gw, action="intercept", result="denied")
    assert event["detail"]["reason"] == "sni_mismatch"


# --- The shell's own defects: cuts, pooled connections, cache accounting, status lines -------------


def _read_some(chunks: Iterator[bytes], at_least: int) -> int:
    got = 0
    for chunk in chunks:
        got += len(chunk)
        if got >= at_least:
            break
    return got


def test_client_gone_mid_download_stops_the_upstream_read_at_once(gw: Gateway, endless: EndlessOrigin):
    verify = ssl.create_default_context(cafile=str(ca_file(gw)))
    with (
        httpx.Client(proxy=proxy_url(gw), verify=verify) as c,
        c.stream("GET", f"https://endless.test:{endless.port}/download") as r,
    ):
        request_id = r.headers["x-request-id"]
        assert request_id.startswith("req_")
        _read_some(r.iter_bytes(), 1024 * 1024)
    gone = time.monotonic()  # the client has closed its connection
    # Before the fix this never ended: the origin was read on into the void. Generous bounds for a busy box.
    assert wait_until(lambda: endless.endless[-1].ended is not None, timeout=8), "tollgate kept reading upstream"
    assert endless.endless[-1].ended - gone < 5 and endless.endless[-1].sent < 64 * 1024 * 1024
    event = last_event(gw, request_id=request_id)  # written once the upstream connection was dropped
    assert event["result"] == "error" and event["detail"]["cut"] == "client_gone"
    assert event["action"] == "GET" and event["detail"]["bytes_in"] >= 1024 * 1024


def test_revoked_token_cuts_an_intercepted_download_both_ways(
    upstream, origin: Origin, plain_origin: Origin, endless: EndlessOrigin, pki, tmp_path
):
    config = egress_config(upstream.base_url, origin, plain_origin, pki[0], tmp_path, endless)
    g = Gateway(tmp_path, config).start()
    try:
        verify = ssl.create_default_context(cafile=str(tmp_path / "tollgate-ca.pem"))
        tunnel = _tls_through(g, f"tunnel.test:{origin.port}", "tunnel.test", pki[0])  # a tunnel-mode one too
        tunnel.sendall(f"GET /user HTTP/1.1\r\nHost: tunnel.test:{origin.port}\r\n\r\n".encode())
        assert tunnel.recv(4096).startswith(b"HTTP/1.1 200")
        with (
            httpx.Client(proxy=proxy_url(g), verify=verify, timeout=10) as c,
            c.stream("GET", f"https://endless.test:{endless.port}/download") as r,
        ):
            request_id = r.headers["x-request-id"]
            chunks = r.iter_bytes()
            _read_some(chunks, 256 * 1024)
            revoked = copy.deepcopy(config)
            revoked["orgs"][0]["teams"][0]["agents"][0]["tokens"] = []
            g.write_config(revoked)
            g.signal(signal.SIGHUP)
            with pytest.raises(httpx.HTTPError):
                for _ in chunks:  # the client keeps reading: tollgate ends the download
                    pass
        assert wait_until(lambda: endless.endless[-1].ended is not None, timeout=8), "upstream still being read"
        event = last_event(g, request_id=request_id)
        assert event["result"] == "denied" and event["detail"]["cut"] == "revoked"
        assert event["detail"]["bytes_in"] >= 256 * 1024
        tunnel.settimeout(3)
        with contextlib.suppress(ssl.SSLError, OSError):
            assert tunnel.recv(4096) == b""
        event = last_event(g, action="tunnel")
        assert event["result"] == "denied" and event["detail"]["cut"] == "revoked" and event["detail"]["bytes_in"] > 0
    finally:
        g.stop()


def test_a_pooled_connection_the_origin_closed_is_retried_once_for_idempotent_methods(gw: Gateway, origin: Origin):
    url = f"https://api.test:{origin.port}/repos/flaky"
    with httpx.Client(proxy=proxy_url(gw), verify=ssl.create_default_context(cafile=str(ca_file(gw)))) as c:
        assert c.get(url).status_code == 200
        assert c.get(url).status_code == 200  # the pooled connection died: retried on a fresh one
        assert len({s.peer for s in origin.seen}) == 2
        # Not a POST: the origin may have acted on it, so the agent gets the error and decides.
        assert c.post(url, content=b"x").status_code == 502
    assert [s.method for s in origin.seen] == ["GET", "GET"]


def test_idle_pooled_connections_expire(upstream, origin: Origin, plain_origin: Origin, pki, tmp_path):
    config = egress_config(upstream.base_url, origin, plain_origin, pki[0], tmp_path)
    config["egress"]["upstream_idle_s"] = 0.3
    g = Gateway(tmp_path, config).start()
    try:
        verify = ssl.create_default_context(cafile=str(tmp_path / "tollgate-ca.pem"))
        with httpx.Client(proxy=proxy_url(g), verify=verify) as c:
            url = f"https://api.test:{origin.port}/user"
            c.get(url)
            c.get(url)  # at once: the pooled connection is reused
            time.sleep(0.6)
            c.get(url)  # idle past the limit: a fresh one
        peers = [s.peer for s in origin.seen]
        assert peers[0] == peers[1] and peers[2] != peers[1]
    finally:
        g.stop()


def _cert_cache(gw: Gateway) -> dict[str, float]:
    text = httpx.get(gw.admin_url + "/metrics").text
    out = {"hit": 0.0, "miss": 0.0}
    for line in text.splitlines():
        if line.startswith("tollgate_egress_cert_cache_total{"):
            out[line.split('result="')[1].split('"')[0]] = float(line.rsplit(" ", 1)[1])
    return out


def test_leaf_cache_hits_and_misses_are_counted_exactly_under_concurrency(gw: Gateway, origin: Origin):
    """Hits on one host while leaves for new hosts are being minted: each lookup counted once, rightly."""
    fresh = [f"n{i}.race.test" for i in range(12)]

    async def handshake(host: str) -> None:
        ctx = ssl.create_default_context(cafile=str(ca_file(gw)))
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.egress_port)
        auth = base64.b64encode(f"alice:{ALICE}".encode()).decode()
        connect = f"CONNECT {host}:{origin.port} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        writer.write(connect.encode())
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        await writer.start_tls(ctx, server_hostname=host)
        writer.close()

    asyncio.run(handshake("api.test"))  # warm: a hit from now on
    time.sleep(1.2)  # past a metrics flush
    before = _cert_cache(gw)

    async def run() -> None:
        await asyncio.gather(*(handshake(h) for h in [*fresh, *["api.test"] * 36]))

    asyncio.run(run())

    def counted() -> tuple[float, float]:
        after = _cert_cache(gw)
        return after["miss"] - before["miss"], after["hit"] - before["hit"]

    wait_until(lambda: counted() == (len(fresh), 36), timeout=4)  # metrics are flushed once a second
    assert counted() == (len(fresh), 36)


def test_refusals_carry_a_reason_phrase_and_a_request_id(gw: Gateway, origin: Origin):
    denied = _raw_connect(gw, "example.invalid:443")
    assert denied.startswith(b"HTTP/1.1 403 Forbidden\r\n"), denied
    assert b"\r\nx-request-id: req_" in denied
    unauthenticated = _raw_connect(gw, f"api.test:{origin.port}", auth=None)
    assert unauthenticated.startswith(b"HTTP/1.1 407 Proxy Authentication Required\r\n"), unauthenticated
    rid = denied.split(b"x-request-id: ")[1].split(b"\r\n")[0].decode()
    assert last_event(gw, request_id=rid)["detail"]["reason"] == "no_rule_for_host"
