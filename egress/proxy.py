"""The egress door's I/O: an HTTP/1.1 forward proxy on asyncio streams, h11 for framing.

Per connection: read one request head → `GET /ca.pem` (no auth) | authenticate
(Proxy-Authorization: Basic agent:token, else 407) → CONNECT or absolute-form `http://` →
policy (403 with `X-Tollgate-Reason`) → resolve, vet every address (SSRF) → dial the vetted one.
CONNECT then either tunnels (after checking the ClientHello's SNI) or intercepts: TLS with a
leaf from the in-memory CA, every inner request checked, credentials injected, re-serialized by
h11 onto a verified TLS connection upstream, pooled per (agent, host, port) only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import h11
from prometheus_client import Counter, Gauge, Histogram

import audit
from config import Config
from config.schema import EgressRule, EgressSettings
from egress.ca import CertificateAuthority, LeafCache
from egress.clienthello import parse_client_hello, vet_client_hello
from egress.credentials import CredentialBroker, CredentialError, OutgoingRequest, credential_spec
from egress.framing import framing_problem
from egress.hosts import HostError, format_authority, parse_authority
from egress.paths import PathError, normalize_target, split_absolute_form
from egress.policy import Decision, InjectError, Policy, PolicyError, Rule, must_strip, render_inject
from egress.splice import Splice
from egress.ssrf import OwnEntry, pick_address

log = logging.getLogger("tollgate.egress")

# Request heads: 64 KiB, as h11's own default and nginx's large_client_header_buffers (4 x 8k)
# with room; agents send small heads.
MAX_HEAD = 64 * 1024
HEAD_TIMEOUT_S = 30.0
READ_SIZE = 256 * 1024
# Bodies a credential must hash before the head can leave (AWS APIs other than S3 sign the payload):
# API calls are small, and uploads carry their own hash (x-amz-content-sha256) and stream.
MAX_SIGNED_BODY = 8 * 1024 * 1024
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)

REQUESTS = Counter("tollgate_egress_requests", "Egress decisions", ["decision", "mode"])
BYTES = Counter("tollgate_egress_bytes", "Bytes relayed by the egress door", ["direction"])
HANDSHAKE = Histogram(
    "tollgate_egress_tls_handshake_seconds",
    "Client-side TLS handshakes of intercepted tunnels",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
)
CERT_CACHE = Counter("tollgate_egress_cert_cache", "Leaf certificate cache lookups", ["result"])
ACTIVE_TUNNELS = Gauge("tollgate_egress_active_tunnels", "Open CONNECT tunnels", multiprocess_mode="livesum")


class Identity(Protocol):
    agent_id: str
    team_id: str
    org_id: str
    token_hash: str


def rule_from_config(r: EgressRule) -> Rule:
    return Rule(
        hosts=tuple(r.hosts),
        ports=frozenset(r.ports),
        methods=frozenset(m.upper() for m in r.methods) if r.methods is not None else None,
        paths=tuple(r.paths) if r.paths is not None else ("/**",),
        mode=r.mode,
        allow_private=r.allow_private,
        inject=dict(r.inject),
        name=r.name,
        credential=credential_spec(r.credential) if r.credential is not None else None,
    )


def policies_from_config(config: Config) -> dict[str, Policy]:
    """Each agent's policy: the rules of its org, team and itself together. Raises PolicyError."""
    out: dict[str, Policy] = {}
    problems: list[tuple[str, str]] = []
    for oi, org in enumerate(config.orgs):
        for ti, team in enumerate(org.teams):
            for ai, agent in enumerate(team.agents):
                rules: list[Rule] = []
                scopes = (
                    (f"orgs[{oi}]", org),
                    (f"orgs[{oi}].teams[{ti}]", team),
                    (f"orgs[{oi}].teams[{ti}].agents[{ai}]", agent),
                )
                for path, scope in scopes:
                    for ri, r in enumerate(scope.egress.rules if scope.egress else ()):
                        try:
                            rule = rule_from_config(r)
                        except PolicyError as e:
                            problems.extend((f"{path}.egress.rules[{ri}].{sub}", msg) for sub, msg in e.problems)
                            continue
                        missing = rule.secrets - config.secrets.keys()
                        if missing:
                            problems.append(
                                (
                                    f"{path}.egress.rules[{ri}].inject",
                                    f"no secret named {sorted(missing)[0]!r} in secrets",
                                )
                            )
                        rules.append(rule)
                try:
                    out[agent.id] = Policy(rules)
                except PolicyError as e:
                    where = f"orgs[{oi}].teams[{ti}].agents[{ai}] (org, team and agent rules together)"
                    problems.extend((f"{where}: {sub}", msg) for sub, msg in e.problems)
    if problems:
        raise PolicyError(problems)
    return out


@dataclass(frozen=True)
class EgressRuntime:
    """One config version's view for the egress door; replaced whole on reload."""

    authenticate: Callable[[str | None], Identity | None]
    is_known: Callable[[str], bool]  # is this token hash still valid?
    policies: dict[str, Policy]
    secrets: dict[str, str]
    settings: EgressSettings
    # Rendered credential headers per rule: secrets and rules are fixed for a config version.
    _injections: dict[int, list[tuple[bytes, bytes]]] = field(default_factory=dict)

    def injection(self, rule: Rule) -> list[tuple[bytes, bytes]]:
        """The headers `rule` injects, secrets filled in (InjectError if one is missing or unsafe)."""
        headers = self._injections.get(id(rule))
        if headers is None:
            rendered = render_inject(rule, self.secrets.__getitem__)
            headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in rendered]
            self._injections[id(rule)] = headers
        return headers


@dataclass(eq=False)
class Tunnel:
    identity: Identity
    host: str
    port: int
    writer: asyncio.StreamWriter
    started: float = field(default_factory=time.monotonic)
    host_header: str | None = None  # the last Host value that matched: keep-alive requests repeat it


class ProxyError(Exception):
    def __init__(self, status: int, reason: str, message: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers or []


class UpstreamPool:
    """Idle upstream connections, keyed by (agent, host, port): never shared across identities."""

    def __init__(self, per_key: int = 64) -> None:
        self._idle: dict[tuple[str, str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
        self.per_key = per_key

    def get(self, key: tuple[str, str, int]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        conns = self._idle.get(key)
        while conns:
            reader, writer = conns.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        return None

    def put(self, key: tuple[str, str, int], conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        conns = self._idle.setdefault(key, [])
        if len(conns) < self.per_key:
            conns.append(conn)
        else:
            conn[1].close()

    def drop_agent(self, agent_id: str) -> None:
        for key in [k for k in self._idle if k[0] == agent_id]:
            for _, writer in self._idle.pop(key):
                writer.close()

    def close(self) -> None:
        for conns in self._idle.values():
            for _, writer in conns:
                writer.close()
        self._idle.clear()


class EgressProxy:
    def __init__(
        self,
        runtime: EgressRuntime,
        ca: CertificateAuthority,
        own: list[OwnEntry],
        upstream_ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.runtime = runtime
        self.ca = ca
        self.leaves = LeafCache(ca)
        self.own = own
        self.upstream_ssl = upstream_ssl or _upstream_context(runtime.settings)
        self.pool = UpstreamPool()
        self.credentials = CredentialBroker()
        self.tunnels: set[Tunnel] = set()
        self.ca_pem = ca.cert_pem()

    def close(self) -> None:
        for t in list(self.tunnels):
            t.writer.close()
        self.pool.close()

    def swap(self, runtime: EgressRuntime) -> int:
        """Install a new config; close tunnels whose token or rule is gone. Returns how many."""
        self.runtime = runtime
        cut = 0
        for t in list(self.tunnels):
            policy = runtime.policies.get(t.identity.agent_id)
            if (
                not runtime.is_known(t.identity.token_hash)
                or policy is None
                or not policy.decide_connect(t.host, t.port).allowed
            ):
                t.writer.close()
                self.pool.drop_agent(t.identity.agent_id)
                cut += 1
        return cut

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started = time.perf_counter()
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            request = await _within(HEAD_TIMEOUT_S, conn, reader)
            if not isinstance(request, h11.Request):
                return
            await self._dispatch(conn, request, reader, writer, started)
        except ProxyError as e:
            with contextlib.suppress(Exception):
                await _send_error(conn, writer, e)
        except (h11.RemoteProtocolError, h11.LocalProtocolError) as e:
            with contextlib.suppress(Exception):
                await _send_error(conn, writer, ProxyError(400, "bad_request", f"malformed request: {e}"))
        except (TimeoutError, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()

    async def _dispatch(
        self,
        conn: h11.Connection,
        request: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        started: float,
    ) -> None:
        target = request.target.decode("latin-1")
        if request.method == b"GET" and target == "/ca.pem":
            await _respond(conn, writer, 200, self.ca_pem, [(b"content-type", b"application/x-pem-file")])
            return
        identity = self._authenticate(request)
        if request.method == b"GET" and target == "/whoami":  # a credential check (tollgate sandbox)
            await _respond(conn, writer, 200, identity.agent_id.encode(), [(b"content-type", b"text/plain")])
            return
        if request.method == b"CONNECT":
            await self._connect(conn, request, reader, writer, identity, started)
        elif target.startswith(("http://", "HTTP://")):
            await self._plain_http(conn, request, reader, writer, identity)
        else:
            raise ProxyError(400, "not_a_proxy_request", "send CONNECT host:port or an absolute http:// URL")

    def _authenticate(self, request: h11.Request) -> Identity:
        header = _header(request.headers, b"proxy-authorization")
        agent, token = _basic(header)
        identity = self.runtime.authenticate(token)
        if identity is None or identity.agent_id != agent:
            audit.emit(
                audit.AuditEvent(
                    "auth",
                    "authenticate",
                    "denied",
                    actor_type="anonymous",
                    actor_id=agent or "",
                    status=407,
                    detail={"door": "egress", "reason": "missing" if header is None else "invalid"},
                )
            )
            REQUESTS.labels("denied_auth", "-").inc()
            raise ProxyError(
                407,
                "proxy_auth_required",
                "proxy authentication required (agent id and token)",
                [(b"proxy-authenticate", b'Basic realm="tollgate"')],
            )
        return identity

    def _policy(self, identity: Identity) -> Policy:
        return self.runtime.policies.get(identity.agent_id) or Policy(())

    async def _dial(
        self, host: str, port: int, rule: Rule, tls: bool
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        timeout = self.runtime.settings.connect_timeout_s
        addresses = self.runtime.settings.resolve.get(host)
        if addresses is None:
            try:
                infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
            except (OSError, TimeoutError):
                raise ProxyError(502, "dns_failure", f"cannot resolve {host}") from None
            addresses = [info[4][0] for info in infos]
        ip, reason = pick_address(addresses, rule.allow_private, self.own, port)
        if ip is None:
            raise ProxyError(403, f"address_refused:{reason}", f"{host} resolves to a refused address ({reason})")
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(
                    str(ip), port, ssl=self.upstream_ssl if tls else None, server_hostname=host if tls else None
                ),
                timeout,
            )
        except ssl.SSLCertVerificationError:
            raise ProxyError(502, "upstream_tls_verify_failed", f"the certificate of {host} did not verify") from None
        except (OSError, TimeoutError, ssl.SSLError):
            raise ProxyError(502, "upstream_unreachable", f"cannot connect to {host}:{port}") from None

    async def _websocket(
        self,
        inner: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up: h11.Connection,
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        response: h11.InformationalResponse,
        tunnel: Tunnel,
        rule: Rule,
        started: float,
    ) -> None:
        """The origin switched protocols: pass its 101 on, then relay raw frames both ways."""
        up_reader, up_writer = conn
        headers = [(n, v) for n, v in response.headers if n not in HOP_BY_HOP]
        protocol = _header(response.headers, b"upgrade") or "websocket"
        headers += [(b"connection", b"Upgrade"), (b"upgrade", protocol.encode("latin-1"))]
        writer.write(inner.send(h11.InformationalResponse(status_code=101, headers=headers, reason=response.reason)))
        # Bytes either side sent right behind the handshake are already in h11's buffers.
        if inner.trailing_data[0]:
            up_writer.write(bytes(inner.trailing_data[0]))
        if up.trailing_data[0]:
            writer.write(bytes(up.trailing_data[0]))
        REQUESTS.labels("allowed", "websocket").inc()
        sent, received = await self._pump(reader, writer, up_reader, up_writer, 0)
        self._audit(tunnel.identity, "WEBSOCKET", format_authority(tunnel.host, tunnel.port), "allowed", 101,
                    started, rule=rule.label, bytes_out=sent, bytes_in=received)  # fmt: skip

    def _audit(
        self,
        identity: Identity,
        action: str,
        resource: str,
        result: audit.Result,
        status: int,
        started: float,
        **detail: Any,
    ) -> None:
        audit.emit(
            audit.AuditEvent(
                "egress",
                action,
                result,
                org_id=identity.org_id,
                team_id=identity.team_id,
                actor_id=identity.agent_id,
                resource=resource,
                status=status,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                detail=detail,
            )
        )

    async def _connect(
        self,
        conn: h11.Connection,
        request: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        identity: Identity,
        started: float,
    ) -> None:
        try:
            host, port = parse_authority(request.target.decode("latin-1"), None)
        except HostError as e:
            self._audit(identity, "connect", "-", "denied", 400, started, reason=f"bad_host:{e.reason}")
            raise ProxyError(400, f"bad_host:{e.reason}", "the CONNECT target is not a valid host:port") from None
        decision = self._policy(identity).decide_connect(host, port)
        resource = format_authority(host, port)
        if not decision.allowed or decision.rule is None:
            self._deny(identity, "connect", resource, decision, started)
        rule = decision.rule
        assert rule is not None
        tunnel = Tunnel(identity, host, port, writer)
        if rule.mode == "tunnel":
            upstream = await self._dial_or_deny(identity, resource, host, port, rule, False, started)
            await _respond(conn, writer, 200, None, [], reason=b"Connection established")
            await self._tunnel(conn, reader, writer, upstream, tunnel, rule, started)
        else:
            await self._intercept(conn, reader, writer, tunnel, rule, started)

    def _deny(self, identity: Identity, action: str, resource: str, decision: Decision, started: float) -> None:
        REQUESTS.labels("denied", decision.rule.mode if decision.rule else "-").inc()
        self._audit(
            identity,
            action,
            resource,
            "denied",
            403,
            started,
            reason=decision.reason,
            rule=decision.rule.label if decision.rule else None,
        )
        raise ProxyError(403, decision.reason, f"egress to {resource} is not allowed ({decision.reason})")

    async def _dial_or_deny(
        self, identity: Identity, resource: str, host: str, port: int, rule: Rule, tls: bool, started: float
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await self._dial(host, port, rule, tls)
        except ProxyError as e:
            result: audit.Result = "denied" if e.status == 403 else "error"
            REQUESTS.labels("denied" if e.status == 403 else "error", rule.mode).inc()
            self._audit(identity, "connect", resource, result, e.status, started, reason=e.reason, rule=rule.label)
            raise

    async def _tunnel(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        tunnel: Tunnel,
        rule: Rule,
        started: float,
    ) -> None:
        up_reader, up_writer = upstream
        resource = format_authority(tunnel.host, tunnel.port)
        hello = bytes(conn.trailing_data[0])
        try:
            while not (parsed := parse_client_hello(hello)).complete:
                chunk = await asyncio.wait_for(reader.read(READ_SIZE), HEAD_TIMEOUT_S)
                if not chunk:
                    return
                hello += chunk
            ok, reason = vet_client_hello(tunnel.host, parsed)
            if not ok:
                REQUESTS.labels("denied", "tunnel").inc()
                self._audit(tunnel.identity, "tunnel", resource, "denied", 403, started, reason=reason, rule=rule.label)
                return
            REQUESTS.labels("allowed", "tunnel").inc()
            self.tunnels.add(tunnel)
            ACTIVE_TUNNELS.inc()
            up_writer.write(hello)
            sent, received = await self._pump(reader, writer, up_reader, up_writer, len(hello))
            self._audit(
                tunnel.identity,
                "tunnel",
                resource,
                "allowed",
                200,
                started,
                rule=rule.label,
                bytes_out=sent,
                bytes_in=received,
            )
        finally:
            if tunnel in self.tunnels:
                self.tunnels.discard(tunnel)
                ACTIVE_TUNNELS.dec()
            up_writer.close()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        already: int,
    ) -> tuple[int, int]:
        """Relay raw bytes both ways until either side closes or a cap is reached."""
        settings = self.runtime.settings
        splice = Splice((reader, writer), (up_reader, up_writer), settings.tunnel_max_bytes, settings.idle_timeout_s)
        splice.bytes[0] = already
        sent, received = await splice.run(settings.tunnel_max_duration_s)
        BYTES.labels("out").inc(sent)
        BYTES.labels("in").inc(received)
        return sent, received

    async def _intercept(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tunnel: Tunnel,
        rule: Rule,
        started: float,
    ) -> None:
        resource = format_authority(tunnel.host, tunnel.port)
        if conn.trailing_data[0]:
            return  # TLS bytes before our 200: a client that does not wait cannot be intercepted
        hits = self.leaves.hits
        context = await self.leaves.context_for(tunnel.host)
        CERT_CACHE.labels("hit" if self.leaves.hits > hits else "miss").inc()
        # The ClientHello follows our 200 at once; it must stay in the socket for the TLS layer,
        # not land in the plaintext reader's buffer, so reading pauses until start_tls takes over.
        writer.transport.pause_reading()
        writer.write(conn.send(h11.Response(status_code=200, headers=[], reason=b"Connection established")))
        t = time.perf_counter()
        try:
            await writer.start_tls(context, ssl_handshake_timeout=HEAD_TIMEOUT_S)
        except (ssl.SSLError, OSError, TimeoutError) as e:
            # Our SNI callback's refusal surfaces as CALLBACK_FAILED on this side, not UNRECOGNIZED_NAME.
            refused = any(s in str(e).upper() for s in ("CALLBACK_FAILED", "UNRECOGNIZED_NAME"))
            reason = "sni_mismatch" if refused else "client_tls_failed"
            REQUESTS.labels("denied" if reason == "sni_mismatch" else "error", "intercept").inc()
            self._audit(tunnel.identity, "intercept", resource, "denied", 403, started, reason=reason, rule=rule.label)
            return
        HANDSHAKE.observe(time.perf_counter() - t)
        self.tunnels.add(tunnel)
        ACTIVE_TUNNELS.inc()
        try:
            inner = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
            while True:
                try:
                    request = await _within(self.runtime.settings.idle_timeout_s, inner, reader)
                    if not isinstance(request, h11.Request):
                        return
                    keep = await self._forward(inner, request, reader, writer, tunnel, rule, tls=True)
                except h11.RemoteProtocolError as e:
                    await _send_error(inner, writer, ProxyError(400, "bad_request", f"malformed request: {e}"))
                    return
                except ProxyError as e:  # refused inside the tunnel: answer there, then close it
                    await _send_error(inner, writer, e)
                    return
                if not keep or inner.our_state is not h11.DONE or inner.their_state is not h11.DONE:
                    return
                inner.start_next_cycle()
        finally:
            self.tunnels.discard(tunnel)
            ACTIVE_TUNNELS.dec()

    async def _plain_http(
        self,
        conn: h11.Connection,
        request: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        identity: Identity,
    ) -> None:
        started = time.perf_counter()
        try:
            scheme, authority, origin = split_absolute_form(request.target.decode("latin-1"))
            host, port = parse_authority(authority, 80)
        except (PathError, HostError) as e:
            raise ProxyError(400, f"bad_target:{e.reason}", "the request target is not a valid http:// URL") from None
        if scheme != "http":
            raise ProxyError(400, "use_connect", "https:// URLs go through CONNECT")
        decision = self._policy(identity).decide_connect(host, port)
        resource = format_authority(host, port)
        if not decision.allowed or decision.rule is None:
            self._deny(identity, "http", resource, decision, started)
        assert decision.rule is not None
        tunnel = Tunnel(identity, host, port, writer)
        self.tunnels.add(tunnel)  # so a reload that revokes access closes a keep-alive connection too
        try:
            request = h11.Request(method=request.method, target=origin.encode("latin-1"), headers=request.headers)
            while True:
                keep = await self._forward(conn, request, reader, writer, tunnel, decision.rule, tls=False)
                if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
                nxt = await _within(self.runtime.settings.idle_timeout_s, conn, reader)
                if not isinstance(nxt, h11.Request):
                    return
                try:
                    scheme, authority, origin = split_absolute_form(nxt.target.decode("latin-1"))
                    if parse_authority(authority, 80) != (host, port):
                        return  # a keep-alive connection serves one origin
                except (PathError, HostError):
                    return
                request = h11.Request(method=nxt.method, target=origin.encode("latin-1"), headers=nxt.headers)
        finally:
            self.tunnels.discard(tunnel)

    async def _forward(
        self,
        inner: h11.Connection,
        request: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tunnel: Tunnel,
        rule: Rule,
        tls: bool,
    ) -> bool:
        """One request through: checks, header rewrite, upstream round trip. True: keep going."""
        started = time.perf_counter()
        method = request.method.decode("latin-1")
        target = request.target.decode("latin-1")
        if method != method.upper():  # methods are case-sensitive: "get" is not the GET a rule allows
            raise ProxyError(400, "bad_method", "HTTP methods are upper case")
        path_only = target.split("?", 1)[0]
        resource = format_authority(tunnel.host, tunnel.port) + path_only[:200]
        mode = "intercept" if tls else "http"

        def refuse(status: int, reason: str, message: str) -> ProxyError:
            REQUESTS.labels("denied", mode).inc()
            self._audit(tunnel.identity, method, resource, "denied", status, started, reason=reason, rule=rule.label)
            return ProxyError(status, reason, message)

        problem = framing_problem(request.headers)
        if problem is not None:
            raise refuse(400, problem, "ambiguous request framing")
        host_header = _header(request.headers, b"host")
        if host_header is None or host_header != tunnel.host_header:
            try:
                if host_header is None or parse_authority(host_header, tunnel.port) != (tunnel.host, tunnel.port):
                    raise refuse(403, "host_mismatch", "the Host header does not match the tunnel's host")
            except HostError:
                raise refuse(403, "host_mismatch", "the Host header does not match the tunnel's host") from None
            tunnel.host_header = host_header
        decision = Policy.decide_request(rule, method, target)
        if not decision.allowed:
            raise refuse(403, decision.reason, f"{method} {path_only} is not allowed ({decision.reason})")
        upgrade = _header(request.headers, b"upgrade")
        if upgrade is not None:
            upgrade = upgrade.strip().lower()
            # Kubernetes exec/attach/port-forward also speak SPDY/3.1 (kubectl before 1.30).
            if upgrade != "websocket" and (rule.credential is None or upgrade not in rule.credential.upgrades):
                raise refuse(501, "upgrade_not_supported", "only WebSocket upgrades are relayed")
        if (rule.inject or rule.credential) and not tls:
            raise refuse(403, "inject_requires_tls", "credentials are injected over TLS only: use https://")
        try:
            injected = self.runtime.injection(rule)
        except InjectError as e:
            raise refuse(502, e.reason, "a credential for this destination is not configured") from None
        # Expect is answered here (tollgate reads the body before it dials), not passed on.
        headers = [
            (n, v) for n, v in request.headers if n not in HOP_BY_HOP and n != b"expect" and not must_strip(n, rule)
        ]
        headers += injected
        if upgrade is not None:
            headers += [(b"connection", b"Upgrade"), (b"upgrade", upgrade.encode())]
        origin_target = normalize_target(target)

        # Parse the start of the body before anything goes upstream: a malformed first chunk is
        # refused here, and the origin never sees a request that cannot be completed.
        if inner.they_are_waiting_for_100_continue:
            writer.write(inner.send(h11.InformationalResponse(status_code=100, headers=[])))
        first = await _body_event(inner, reader)
        body: bytes | None = None  # read whole: a credential signs it
        if rule.credential is not None:
            if rule.credential.needs_body(request.headers):
                body = await _whole_body(inner, reader, first)
                headers = [(n, v) for n, v in headers if n != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
            outgoing = OutgoingRequest(method, origin_target, tunnel.host, tunnel.port, request.headers, headers, body)
            try:
                headers = await self.credentials.apply(rule.credential, tunnel.identity, self.runtime.secrets, outgoing)
            except CredentialError as e:
                raise refuse(e.status, e.reason, e.message) from None
        if body is None and _header(request.headers, b"transfer-encoding") is not None:
            headers.append((b"transfer-encoding", b"chunked"))  # framing_problem let only chunked through
        upstream_request = h11.Request(method=request.method, target=origin_target.encode(), headers=headers)
        key = (tunnel.identity.agent_id, tunnel.host, tunnel.port)
        conn = self.pool.get(key) or await self._dial(tunnel.host, tunnel.port, rule, tls)
        up = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        up_reader, up_writer = conn
        reusable = False
        try:
            if body is None:
                sent = await _copy_body(
                    inner, reader, up, up_writer, client_side=True, first=first, prefix=up.send(upstream_request)
                )
            else:
                up_writer.write(up.send(upstream_request) + up.send(h11.Data(data=body)) + up.send(h11.EndOfMessage()))
                sent = len(body)
            response = await _within(self.runtime.settings.idle_timeout_s, up, up_reader)
            while isinstance(response, h11.InformationalResponse):
                if response.status_code == 101 and upgrade is not None:
                    await self._websocket(inner, reader, writer, up, conn, response, tunnel, rule, started)
                    return False
                response = await _next_event(up, up_reader)
            if not isinstance(response, h11.Response):
                raise ProxyError(502, "upstream_protocol", "the upstream closed without answering")
            out_headers = [(n, v) for n, v in response.headers if n not in HOP_BY_HOP]
            head = inner.send(
                h11.Response(status_code=response.status_code, headers=out_headers, reason=response.reason)
            )
            received = await _copy_body(up, up_reader, inner, writer, client_side=False, prefix=head)
            reusable = up.our_state is h11.DONE and up.their_state is h11.DONE
        except ProxyError:
            up_writer.close()
            raise
        except (h11.RemoteProtocolError, h11.LocalProtocolError, ConnectionError, TimeoutError, OSError) as e:
            up_writer.close()
            if inner.our_state is h11.SEND_RESPONSE:
                raise ProxyError(502, "upstream_error", f"upstream failed: {e.__class__.__name__}") from None
            raise
        finally:
            if reusable:
                self.pool.put(key, conn)
            elif not up_writer.is_closing():
                up_writer.close()
        BYTES.labels("out").inc(sent)
        BYTES.labels("in").inc(received)
        REQUESTS.labels("allowed", mode).inc()
        self._audit(
            tunnel.identity,
            method,
            resource,
            "allowed",
            response.status_code,
            started,
            rule=rule.label,
            injected=sorted(rule.secrets),
            bytes_out=sent,
            bytes_in=received,
        )
        return True


def _upstream_context(settings: EgressSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=settings.upstream_ca_bundle)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for n, v in headers:
        if n == name:
            return v.decode("latin-1")
    return None


def _basic(header: str | None) -> tuple[str | None, str | None]:
    if header is None:
        return None, None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    agent, sep, token = decoded.partition(":")
    return (agent, token) if sep else (None, None)


async def _within(timeout_s: float, conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    """The next h11 event, or TimeoutError. (asyncio.wait_for wraps each call in a new task on 3.11.)"""
    async with asyncio.timeout(timeout_s):
        return await _next_event(conn, reader)


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_SIZE))
            continue
        return event


async def _whole_body(src: h11.Connection, reader: asyncio.StreamReader, first: Any) -> bytes:
    """A request body read to its end, for a credential that signs it (bounded: 413 beyond)."""
    chunks: list[bytes] = []
    size = 0
    event = first
    while not isinstance(event, h11.EndOfMessage):
        if not isinstance(event, h11.Data):
            raise ProxyError(400, "bad_request_body", "the request body ended early")
        size += len(event.data)
        if size > MAX_SIGNED_BODY:
            raise ProxyError(413, "body_too_large_to_sign", f"bodies over {MAX_SIGNED_BODY} bytes cannot be re-signed")
        chunks.append(event.data)
        event = await _body_event(src, reader)
    return b"".join(chunks)


async def _body_event(src: h11.Connection, reader: asyncio.StreamReader) -> Any:
    """The next body event of a client's request; a framing error there is the client's (400)."""
    try:
        return await _next_event(src, reader)
    except h11.RemoteProtocolError:
        raise ProxyError(400, "bad_request_body", "malformed request body") from None


async def _copy_body(
    src: h11.Connection,
    reader: asyncio.StreamReader,
    dst: h11.Connection,
    writer: asyncio.StreamWriter,
    client_side: bool,
    first: Any = None,
    prefix: bytes = b"",
) -> int:
    """Stream a message body from one h11 connection to the other, re-framed; returns bytes.

    Output is gathered until more input must be awaited, so a head and a small body leave in
    one write: on a TLS transport every write is its own record and its own syscall.
    """
    total = 0
    pending = [prefix] if prefix else []
    event = first
    while True:
        if event is None:
            try:
                event = src.next_event()
            except h11.RemoteProtocolError:
                if client_side:  # a bad chunk size or a short body from the agent is its error
                    raise ProxyError(400, "bad_request_body", "malformed request body") from None
                raise
            if event is h11.NEED_DATA:
                if pending:
                    writer.write(b"".join(pending))
                    pending.clear()
                    await writer.drain()  # back-pressure before reading more
                src.receive_data(await reader.read(READ_SIZE))
                event = None
                continue
        if isinstance(event, h11.Data):
            total += len(event.data)
            pending.append(dst.send(event))
        elif isinstance(event, h11.EndOfMessage):
            pending.append(dst.send(h11.EndOfMessage()))
            writer.write(b"".join(pending))
            await writer.drain()
            return total
        else:
            raise h11.RemoteProtocolError("connection closed mid-body")
        event = None


async def _respond(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes | None,
    headers: list[tuple[bytes, bytes]],
    reason: bytes = b"",
) -> None:
    if body is not None:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    writer.write(conn.send(h11.Response(status_code=status, headers=headers, reason=reason)))
    if body is not None:
        writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


async def _send_error(conn: h11.Connection, writer: asyncio.StreamWriter, e: ProxyError) -> None:
    body = f"{e.message}\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-tollgate-reason", e.reason.encode()),
        (b"connection", b"close"),
        *e.headers,
    ]
    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
        await _respond(conn, writer, e.status, body, headers)
