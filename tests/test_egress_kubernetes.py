"""Kubernetes credentials: kubectl through the egress door with a kubeconfig that holds no
credential; a local HTTPS stand-in API server records what arrives."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest
import yaml
from aiohttp import web

from config import MasterKey, parse_config
from egress.credentials import CredentialError, KubernetesSpec, TokenFile, impersonation_headers
from tests.conftest import ALICE, CAROL, Gateway, base_config
from tests.https_upstream import make_test_pki
from tests.upstream import LoopbackServer, free_port

SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.tollgate-sa-token-from-the-store.c2lnbmF0dXJl"
FILE_TOKEN_1 = "eyJhbGciOiJSUzI1NiJ9.projected-token-one.c2ln"
FILE_TOKEN_2 = "eyJhbGciOiJSUzI1NiJ9.projected-token-two.c2ln"
POD_LIST = {
    "kind": "PodList",
    "apiVersion": "v1",
    "metadata": {"resourceVersion": "1"},
    "items": [{"metadata": {"name": "web-1", "namespace": "default"}, "spec": {}, "status": {"phase": "Running"}}],
}


class ApiServer(LoopbackServer):
    """Enough of a Kubernetes API server for kubectl's discovery, list, watch and exec; it keeps
    every request's raw header list (duplicates and spellings included)."""

    def __init__(self, ssl_context: ssl.SSLContext, tokens: set[str]) -> None:
        super().__init__()
        self.ssl_context = ssl_context
        self.tokens = tokens
        self.seen: list[tuple[str, list[tuple[str, str]]]] = []
        self.watch_gate = threading.Event()

    def app(self) -> web.Application:
        app = web.Application()
        cidrs = [{"clientCIDR": "0.0.0.0/0", "serverAddress": "k8s.test"}]
        app.router.add_get("/api", self._static({"kind": "APIVersions", "versions": ["v1"],
                           "serverAddressByClientCIDRs": cidrs}))  # fmt: skip
        app.router.add_get("/apis", self._static({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}))
        app.router.add_get("/api/v1", self._static({"kind": "APIResourceList", "groupVersion": "v1",
                           "resources": [{"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                                          "verbs": ["get", "list", "watch"], "shortNames": ["po"]}]}))  # fmt: skip
        app.router.add_get("/api/v1/namespaces/{ns}/pods", self._pods)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/exec", self._exec)
        return app

    def _static(self, body: dict) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return self._check(request) or web.json_response(body)

        return handle

    def _check(self, request: web.Request) -> web.Response | None:
        self.seen.append((request.path, [(k.decode(), v.decode()) for k, v in request.raw_headers]))
        # Like a real API server: only tollgate's own service-account token gets in.
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return web.json_response({"kind": "Status", "code": 401, "reason": "Unauthorized"}, status=401)
        return None

    async def _pods(self, request: web.Request) -> web.StreamResponse:
        denied = self._check(request)
        if denied:
            return denied
        if request.query.get("watch") not in ("1", "true"):
            return web.json_response(POD_LIST)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        pod = POD_LIST["items"][0]
        await resp.write(json.dumps({"type": "ADDED", "object": pod}).encode() + b"\n")
        # The second event waits for the test to have read the first: the stream is relayed
        # as it comes, not buffered until it ends.
        await asyncio.get_running_loop().run_in_executor(None, self.watch_gate.wait, 10)
        await resp.write(json.dumps({"type": "DELETED", "object": pod}).encode() + b"\n")
        await resp.write_eof()
        return resp

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        denied = self._check(request)
        if denied:
            return denied
        ws = web.WebSocketResponse(protocols=["v5.channel.k8s.io"])
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_bytes(b"\x01" + msg.data[1:].upper())  # stdout channel: the input, upper-cased
        return ws


class SpdyExecServer:
    """The SPDY/3.1 upgrade of exec as kubectl before 1.30 does it: 101, then raw frames (echoed)."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self.ssl_context = ssl_context
        self.heads: list[bytes] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
        while data := await reader.read(65536):
            writer.write(data)
        writer.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)


def headers_of(seen: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in seen if k.lower() == name]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    return make_test_pki(tmp_path_factory.mktemp("k8s-pki"), ["k8s.test", "spdy.test"])


@pytest.fixture(scope="module")
def api(pki) -> Iterator[ApiServer]:
    server = ApiServer(pki[1], {SA_TOKEN, FILE_TOKEN_1, FILE_TOKEN_2}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def spdy(pki) -> Iterator[SpdyExecServer]:
    server = SpdyExecServer(pki[1])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gw(
    upstream, api: ApiServer, spdy: SpdyExecServer, pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("k8s")
    token_file = workdir / "sa" / "token"
    token_file.parent.mkdir()
    token_file.write_text(FILE_TOKEN_1 + "\n")
    config = base_config(upstream.base_url, free_port(), free_port())
    config["egress"] = {"upstream_ca_bundle": str(pki[0]), "ca_cert_path": str(workdir / "tollgate-ca.pem"),
                        "resolve": {"k8s.test": ["127.0.0.1"], "spdy.test": ["127.0.0.1"]}}  # fmt: skip
    rule = {"name": "cluster", "hosts": ["k8s.test"], "ports": [api.port], "mode": "intercept",
            "allow_private": True, "methods": ["GET", "POST"]}  # fmt: skip
    credential = {"kind": "kubernetes", "token_secret": "k8s-sa"}
    config["orgs"][0]["egress"] = {"rules": [
        {**rule, "credential": credential},
        {**rule, "name": "old-kubectl", "hosts": ["spdy.test"], "ports": [spdy.port], "credential": credential},
    ]}  # fmt: skip
    config["orgs"][1]["egress"] = {"rules": [{**rule, "credential": {
        "kind": "kubernetes", "token_file": str(token_file), "groups": ["tenants:{org}", "agents"]}}]}  # fmt: skip
    g = Gateway(workdir, config, env={"TOLLGATE_MASTER_KEY": MasterKey.generate().encoded()})
    g.set_secret("k8s-sa", SA_TOKEN)
    g.start()
    yield g
    g.stop()


@pytest.fixture(autouse=True)
def _clear(api: ApiServer) -> None:
    api.seen.clear()
    api.watch_gate.clear()


def proxy(gw: Gateway, agent: str = "alice", token: str = ALICE) -> str:
    return f"http://{agent}:{token}@127.0.0.1:{gw.egress_port}"


def client(gw: Gateway, agent: str = "alice", token: str = ALICE) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(gw.workdir / "tollgate-ca.pem"))
    return httpx.Client(proxy=proxy(gw, agent, token), verify=ctx, timeout=10)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (.ci/services.sh installs it)")
def test_kubectl_get_pods_with_a_kubeconfig_that_holds_no_credential(gw: Gateway, api: ApiServer, tmp_path: Path):
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "agent",
        "clusters": [{"name": "c", "cluster": {"server": f"https://k8s.test:{api.port}", "proxy-url": proxy(gw),
                      "certificate-authority": str(gw.workdir / "tollgate-ca.pem")}}],
        # No token, no certificate, no password: kubectl prompts for a user name when a user entry
        # is empty, and sends it as Basic auth with an empty password, which tollgate removes.
        "users": [{"name": "nobody", "user": {"username": "alice"}}],
        "contexts": [{"name": "agent", "context": {"cluster": "c", "user": "nobody", "namespace": "default"}}],
    }  # fmt: skip
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(path), "--cache-dir", str(tmp_path / "cache"), "--request-timeout", "10s",
         "get", "pods", "-o", "name"], capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "pod/web-1"
    assert SA_TOKEN not in out.stdout + out.stderr
    paths = [p for p, _ in api.seen]
    assert "/api/v1/namespaces/default/pods" in paths
    for _, headers in api.seen:
        assert headers_of(headers, "authorization") == [f"Bearer {SA_TOKEN}"]
        assert headers_of(headers, "impersonate-user") == ["tollgate:agent:alice"]
        assert headers_of(headers, "impersonate-group") == ["tollgate:org:acme", "tollgate:team:acme:research"]


def tls_through_proxy(gw: Gateway, host: str, port: int) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", gw.egress_port), timeout=10)
    basic = base64.b64encode(f"alice:{ALICE}".encode()).decode()
    raw.sendall(
        f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}\r\nProxy-Authorization: Basic {basic}\r\n\r\n".encode()
    )
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    ctx = ssl.create_default_context(cafile=str(gw.workdir / "tollgate-ca.pem"))
    return ctx.wrap_socket(raw, server_hostname=host)


def test_spdy_exec_upgrade_is_relayed_for_kubernetes_rules(gw: Gateway, spdy: SpdyExecServer):
    with tls_through_proxy(gw, "spdy.test", spdy.port) as tls:
        tls.sendall(f"POST /api/v1/namespaces/default/pods/web-1/exec?command=sh HTTP/1.1\r\n"
                    f"Host: spdy.test:{spdy.port}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nImpersonate-User: admin\r\n"
                    "Content-Length: 0\r\n\r\n".encode())  # fmt: skip
        head = b""
        while b"\r\n\r\n" not in head:
            head += tls.recv(4096)
        assert head.startswith(b"HTTP/1.1 101") and b"upgrade: spdy/3.1" in head.lower()
        tls.sendall(b"\x80\x03\x00\x01frame")
        assert tls.recv(4096) == b"\x80\x03\x00\x01frame"
    sent = spdy.heads[-1].decode().lower()
    assert "impersonate-user: tollgate:agent:alice" in sent and "impersonate-user: admin" not in sent
    assert f"authorization: bearer {SA_TOKEN.lower()}" in sent and "upgrade: spdy/3.1" in sent


def test_client_impersonation_and_authorization_are_stripped_in_every_spelling(gw: Gateway, api: ApiServer):
    forged = [
        ("Authorization", "Bearer forged"), ("authorization", "Basic Zm9yZ2Vk"), ("AUTHORIZATION", "x"),
        ("Impersonate-User", "system:admin"), ("impersonate-user", "kube-admin"), ("Impersonate_User", "x"),
        ("Impersonate-Group", "system:masters"), ("IMPERSONATE-GROUP", "system:masters"),
        ("Impersonate-Uid", "0"), ("Impersonate-Extra-Scopes", "all"), ("impersonate_extra_reason", "x"),
    ]  # fmt: skip
    with tls_through_proxy(gw, "k8s.test", api.port) as tls:
        head = f"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: k8s.test:{api.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in forged) + "Connection: close\r\n\r\n"
        tls.sendall(head.encode())
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    headers = api.seen[-1][1]
    assert headers_of(headers, "authorization") == [f"Bearer {SA_TOKEN}"]
    assert headers_of(headers, "impersonate-user") == ["tollgate:agent:alice"]
    assert headers_of(headers, "impersonate-group") == ["tollgate:org:acme", "tollgate:team:acme:research"]
    leftovers = [
        k for k, _ in headers if k.lower().replace("_", "-").startswith(("impersonate-uid", "impersonate-extra"))
    ]
    assert leftovers == [] and not [k for k, _ in headers if "_" in k]


def test_projected_token_file_is_reread_when_the_kubelet_rotates_it(gw: Gateway, api: ApiServer):
    with client(gw, "carol", CAROL) as c:
        assert c.get(f"https://k8s.test:{api.port}/api/v1/namespaces/default/pods").status_code == 200
        assert headers_of(api.seen[-1][1], "authorization") == [f"Bearer {FILE_TOKEN_1}"]
        assert headers_of(api.seen[-1][1], "impersonate-user") == ["tollgate:agent:carol"]
        assert headers_of(api.seen[-1][1], "impersonate-group") == ["tenants:globex", "agents"]
        # The kubelet writes the new token beside the old one and swaps it in atomically.
        token = gw.workdir / "sa" / "token"
        fresh = token.with_name("token.new")
        fresh.write_text(FILE_TOKEN_2)
        os.replace(fresh, token)
        assert c.get(f"https://k8s.test:{api.port}/api/v1/namespaces/default/pods").status_code == 200
        assert headers_of(api.seen[-1][1], "authorization") == [f"Bearer {FILE_TOKEN_2}"]


def test_watch_stream_is_relayed_as_it_comes(gw: Gateway, api: ApiServer):
    url = f"https://k8s.test:{api.port}/api/v1/namespaces/default/pods?watch=1"
    with client(gw) as c, c.stream("GET", url) as r:
        lines = r.iter_lines()
        assert json.loads(next(lines))["type"] == "ADDED"  # while the server still holds the stream open
        api.watch_gate.set()
        assert json.loads(next(lines))["type"] == "DELETED"
    assert headers_of(api.seen[-1][1], "impersonate-user") == ["tollgate:agent:alice"]


def test_exec_websocket_upgrade_carries_the_impersonation(gw: Gateway, api: ApiServer):
    async def talk() -> bytes:
        ctx = ssl.create_default_context(cafile=str(gw.workdir / "tollgate-ca.pem"))
        url = f"wss://k8s.test:{api.port}/api/v1/namespaces/default/pods/web-1/exec?command=cat&stdin=true"
        async with (
            aiohttp.ClientSession() as session,
            # Kubernetes reads a bearer token from this subprotocol too (browsers cannot set
            # Authorization): the client's credential in another spelling.
            session.ws_connect(url, proxy=proxy(gw), ssl=ctx,
                               protocols=["base64url.bearer.authorization.k8s.io.Zm9yZ2Vk", "v5.channel.k8s.io"]) as ws,
        ):  # fmt: skip
            await ws.send_bytes(b"\x00hello")
            return (await ws.receive(timeout=5)).data

    assert asyncio.run(talk()) == b"\x01HELLO"
    path, headers = api.seen[-1]
    assert path.endswith("/exec")
    assert headers_of(headers, "impersonate-user") == ["tollgate:agent:alice"]
    assert headers_of(headers, "authorization") == [f"Bearer {SA_TOKEN}"]
    assert headers_of(headers, "sec-websocket-protocol") == ["v5.channel.k8s.io"]


def test_a_method_the_rule_does_not_allow_never_reaches_the_cluster(gw: Gateway, api: ApiServer):
    with client(gw) as c:
        r = c.delete(f"https://k8s.test:{api.port}/api/v1/namespaces/default/pods/web-1")
    assert r.status_code == 403 and r.headers["x-tollgate-reason"] == "method_not_allowed"
    assert api.seen == []


def test_the_credential_is_never_sent_over_plain_http(gw: Gateway, api: ApiServer):
    with httpx.Client(proxy=proxy(gw), timeout=10) as c:
        r = c.get(f"http://k8s.test:{api.port}/api/v1/namespaces/default/pods")
    assert r.status_code == 403 and r.headers["x-tollgate-reason"] == "inject_requires_tls"
    assert api.seen == []


# --- pure parts -----------------------------------------------------------------------------


class Who:
    agent_id, team_id, org_id = "bot-1", "research", "acme"


def test_impersonation_headers_fill_the_group_templates():
    spec = KubernetesSpec("sa", None, ("tollgate:org:{org}", "t:{org}:{team}", "a:{agent}", "fixed"))
    assert impersonation_headers(spec, "tok", Who()) == [
        (b"authorization", b"Bearer tok"),
        (b"impersonate-user", b"tollgate:agent:bot-1"),
        (b"impersonate-group", b"tollgate:org:acme"),
        (b"impersonate-group", b"t:acme:research"),
        (b"impersonate-group", b"a:bot-1"),
        (b"impersonate-group", b"fixed"),
    ]


def test_token_file_errors_and_change_detection(tmp_path: Path):
    path = tmp_path / "token"
    source = TokenFile(str(path))
    with pytest.raises(CredentialError, match="cannot be read"):
        source.read()
    path.write_text("  \n")
    with pytest.raises(CredentialError, match="no usable token"):
        source.read()
    path.write_text("abc\n")
    assert source.read() == "abc"
    time.sleep(0.01)
    path.write_text("abcd")
    assert source.read() == "abcd"


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        ({"kind": "kubernetes"}, "set exactly one of token_secret"),
        ({"kind": "kubernetes", "token_secret": "a", "token_file": "/t"}, "set exactly one of token_secret"),
        ({"kind": "kubernetes", "token_secret": "a", "groups": ["{tenant}"]}, "is not a group name"),
        ({"kind": "kubernetes", "token_secret": "a b"}, "should match pattern"),
        ({"kind": "gcp", "token_secret": "a"}, "kubernetes"),
    ],
)
def test_bad_kubernetes_credentials_are_config_errors(credential: dict, message: str):
    config = base_config("http://127.0.0.1:9/v1", 1, 2)
    config["orgs"][0]["egress"] = {"rules": [{"hosts": ["k8s.test"], "mode": "intercept", "credential": credential}]}
    with pytest.raises(Exception, match=message) as e:
        parse_config(yaml.safe_dump(config))
    assert "orgs[0].egress.rules[0].credential" in str(e.value)


def test_credential_needs_intercept_and_owns_authorization():
    config = base_config("http://127.0.0.1:9/v1", 1, 2)
    cred = {"kind": "kubernetes", "token_secret": "a"}
    config["orgs"][0]["egress"] = {"rules": [{"hosts": ["k8s.test"], "credential": cred}]}
    with pytest.raises(Exception, match="need mode: intercept"):
        parse_config(yaml.safe_dump(config))
    config["orgs"][0]["egress"] = {"rules": [{"hosts": ["k8s.test"], "mode": "intercept", "credential": cred,
                                              "inject": {"authorization": "Bearer x"}}]}  # fmt: skip
    with pytest.raises(Exception, match="sets Authorization itself"):
        parse_config(yaml.safe_dump(config))
