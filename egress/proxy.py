"""The egress door's front: an HTTP/1.1 forward proxy on asyncio streams, h11 for framing.

Per connection: read one request head → `GET /ca.pem` (no auth) | authenticate
(Proxy-Authorization: Basic agent:token, else 407) → CONNECT or absolute-form `http://` →
policy (403 with `X-Tollgate-Reason`) → resolve, vet every address (SSRF) → dial the vetted one.
CONNECT then either tunnels (after checking the ClientHello's SNI) or intercepts: TLS with a
leaf from the in-memory CA, then the request loop of `egress.intercept`. Every event carries a
request id, also sent to the client as `x-request-id`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, cast

import h11

import audit
from egress.ca import LeafCache
from egress.clienthello import parse_client_hello, vet_client_hello
from egress.credentials import CredentialBroker
from egress.hosts import HostError, format_authority, parse_authority
from egress.http1 import HEAD_TIMEOUT_S, MAX_HEAD, READ_SIZE, ProxyError, respond, send_error, within
from egress.intercept import CUT_RESULT, RequestLoop, Session
from egress.metrics import ACTIVE_TUNNELS, BYTES, CERT_CACHE, HANDSHAKE, REQUESTS, TALLY
from egress.paths import PathError, split_absolute_form
from egress.policy import Rule, RuleDecision
from egress.rotation import CAChain
from egress.rules import EgressRuntime, Identity
from egress.splice import Splice
from egress.ssrf import OwnEntry
from egress.upstream import Dialer, UpstreamPool
from egress.vet import header

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _own_bundle(chain: CAChain) -> Callable[[], Awaitable[bytes]]:
    async def bundle() -> bytes:
        return chain.bundle_pem()

    return bundle


class EgressProxy:
    def __init__(
        self,
        runtime: EgressRuntime,
        chain: CAChain,
        own: Sequence[OwnEntry],
        new_id: Callable[[], str],
        upstream_ssl: ssl.SSLContext | None = None,
        bundle: Callable[[], Awaitable[bytes]] | None = None,
    ) -> None:
        self.runtime = runtime
        self.chain = chain
        self.leaves = LeafCache(chain.current(), observe=lambda hit: CERT_CACHE.labels("hit" if hit else "miss").inc())
        self.dialer = Dialer(runtime.settings, own, upstream_ssl)
        self.pool = UpstreamPool(runtime.settings)
        self.credentials = CredentialBroker()  # its caches (token files) outlive config reloads
        self.new_id = new_id  # the process's request ids, shared with the LLM door
        self.sessions: set[Session] = set()
        # What GET /ca.pem serves: the replicas' bundle when they share one (gateway.ca_trust).
        self.bundle = bundle or _own_bundle(chain)

    def close(self) -> None:
        for s in list(self.sessions):
            s.writer.close()
        self.pool.close()
        TALLY.flush()

    def swap(self, runtime: EgressRuntime) -> int:
        """Install a new config; cut sessions whose token or rule is gone, both sides. Returns how many."""
        self.runtime = runtime
        self.dialer.settings = self.pool.settings = runtime.settings
        cut = 0
        for s in list(self.sessions):
            if not runtime.is_known(s.identity.token_hash):
                why = "revoked"
            elif not runtime.policy(s.identity.agent_id).decide_connect(s.host, s.port).allowed:
                why = "rule_removed"
            else:
                continue
            s.sever(why)
            self.pool.drop_agent(s.identity.agent_id)
            cut += 1
        return cut

    def audit(
        self,
        identity: Identity,
        request_id: str,
        action: str,
        resource: str,
        result: audit.Result,
        status: int,
        started: float,
        detail: dict[str, Any],
    ) -> None:
        audit.emit(
            audit.AuditEvent(
                "egress",
                action,
                result,
                request_id=request_id,
                org_id=identity.org_id,
                team_id=identity.team_id,
                actor_id=identity.agent_id,
                resource=resource,
                status=status,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                detail=detail,
            )
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started = time.perf_counter()
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        rid = ""
        try:
            request = await within(HEAD_TIMEOUT_S, conn, reader)
            if not isinstance(request, h11.Request):
                return
            rid = self.new_id()
            await self._dispatch(conn, request, reader, writer, rid, started)
        except ProxyError as e:
            e.request_id = e.request_id or rid
            with contextlib.suppress(Exception):
                await send_error(conn, writer, e)
        except (h11.RemoteProtocolError, h11.LocalProtocolError) as e:
            with contextlib.suppress(Exception):
                await send_error(conn, writer, ProxyError(400, "bad_request", f"malformed request: {e}"))
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
        rid: str,
        started: float,
    ) -> None:
        target = request.target.decode("latin-1")
        if request.method == b"GET" and target == "/ca.pem":
            await respond(conn, writer, 200, await self.bundle(), [(b"content-type", b"application/x-pem-file")])
            return
        identity = self._authenticate(request, rid)
        if request.method == b"GET" and target == "/whoami":  # a credential check (tollgate sandbox)
            await respond(conn, writer, 200, identity.agent_id.encode(), [(b"content-type", b"text/plain")])
            return
        if request.method == b"CONNECT":
            await self._connect(conn, request, reader, writer, identity, rid, started)
        elif target.startswith(("http://", "HTTP://")):
            await self._plain_http(conn, request, reader, writer, identity, rid, started)
        else:
            raise ProxyError(400, "not_a_proxy_request", "send CONNECT host:port or an absolute http:// URL")

    def _authenticate(self, request: h11.Request, rid: str) -> Identity:
        value = header(request.headers, b"proxy-authorization")
        agent, token = _basic(value)
        identity = self.runtime.authenticate(token)
        if identity is None or identity.agent_id != agent:
            audit.emit(
                audit.AuditEvent(
                    "auth",
                    "authenticate",
                    "denied",
                    request_id=rid,
                    actor_type="anonymous",
                    actor_id=agent or "",
                    status=407,
                    detail={"door": "egress", "reason": "missing" if value is None else "invalid"},
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

    def _deny(
        self, identity: Identity, rid: str, action: str, resource: str, decision: RuleDecision, started: float
    ) -> NoReturn:
        REQUESTS.labels("denied", decision.rule.mode if decision.rule else "-").inc()
        detail = {"reason": decision.reason, "rule": decision.rule.label if decision.rule else None}
        self.audit(identity, rid, action, resource, "denied", 403, started, detail)
        raise ProxyError(403, decision.reason, f"egress to {resource} is not allowed ({decision.reason})")

    async def _connect(
        self,
        conn: h11.Connection,
        request: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        identity: Identity,
        rid: str,
        started: float,
    ) -> None:
        try:
            host, port = parse_authority(request.target.decode("latin-1"), None)
        except HostError as e:
            reason = f"bad_host:{e.reason}"
            self.audit(identity, rid, "connect", "-", "denied", 400, started, {"reason": reason})
            raise ProxyError(400, reason, "the CONNECT target is not a valid host:port") from None
        decision = self.runtime.policy(identity.agent_id).decide_connect(host, port)
        resource = format_authority(host, port)
        if not decision.allowed or decision.rule is None:
            self._deny(identity, rid, "connect", resource, decision, started)
        rule = decision.rule
        assert rule is not None
        session = Session(identity, host, port, writer)
        if rule.mode == "tunnel":
            await self._tunnel(conn, reader, writer, session, rule, rid, started)
        else:
            await self._intercept(conn, reader, writer, session, rule, rid, started)

    async def _tunnel(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        rule: Rule,
        rid: str,
        started: float,
    ) -> None:
        resource = format_authority(session.host, session.port)

        def record(result: audit.Result, status: int, **detail: Any) -> None:
            REQUESTS.labels(result, "tunnel").inc()
            detail["rule"] = rule.label
            self.audit(session.identity, rid, "tunnel", resource, result, status, started, detail)

        try:
            upstream = await self.dialer.dial(session.host, session.port, rule.allow_private, False)
        except ProxyError as e:
            record("denied" if e.status == 403 else "error", e.status, reason=e.reason)
            raise
        session.upstream = upstream
        try:
            await respond(conn, writer, 200, None, [(b"x-request-id", rid.encode())], b"Connection established")
            hello = bytes(conn.trailing_data[0])
            while not (parsed := parse_client_hello(hello)).complete:
                chunk = await asyncio.wait_for(reader.read(READ_SIZE), HEAD_TIMEOUT_S)
                if not chunk:
                    return
                hello += chunk
            ok, reason = vet_client_hello(session.host, parsed)
            if not ok:
                record("denied", 403, reason=reason)
                return
            self.sessions.add(session)
            ACTIVE_TUNNELS.inc()
            upstream.writer.write(hello)
            moved = [len(hello), 0]
            cut = await self.pump((reader, writer), (upstream.reader, upstream.writer), moved)
            cut = session.cut or cut
            if cut is None:
                record("allowed", 200, bytes_out=moved[0], bytes_in=moved[1])
            else:
                record(CUT_RESULT[cut], 200, cut=cut, bytes_out=moved[0], bytes_in=moved[1])
        finally:
            if session in self.sessions:
                self.sessions.discard(session)
                ACTIVE_TUNNELS.dec()
            upstream.abort()

    async def pump(self, client: Stream, upstream: Stream, moved: list[int]) -> str | None:
        """Relay raw bytes both ways until either side closes or a cap is reached; adds what crossed
        to `moved` (to upstream, from upstream). Returns why it was cut, None for a clean end."""
        settings = self.runtime.settings
        splice = Splice(client, upstream, settings.tunnel_max_bytes, settings.idle_timeout_s)
        splice.bytes[:] = moved  # the byte cap counts what crossed before the relay too
        sent, received = await splice.run(settings.tunnel_max_duration_s)
        BYTES.labels("out").inc(sent - moved[0])
        BYTES.labels("in").inc(received - moved[1])
        moved[:] = sent, received
        return splice.cut

    async def _intercept(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        rule: Rule,
        rid: str,
        started: float,
    ) -> None:
        if conn.trailing_data[0]:
            return  # TLS bytes before our 200: a client that does not wait cannot be intercepted
        self.leaves.use(self.chain.current())  # after a rotation: leaves from the new CA
        context = await self.leaves.context_for(session.host)
        # The ClientHello follows our 200 at once; it must stay in the socket for the TLS layer,
        # not land in the plaintext reader's buffer, so reading pauses until start_tls takes over.
        cast(asyncio.Transport, writer.transport).pause_reading()
        writer.write(conn.send(h11.Response(status_code=200, headers=[], reason=b"Connection established")))
        t = time.perf_counter()
        try:
            await writer.start_tls(context, ssl_handshake_timeout=HEAD_TIMEOUT_S)
        except (ssl.SSLError, OSError, TimeoutError) as e:
            # Our SNI callback's refusal surfaces as CALLBACK_FAILED on this side, not UNRECOGNIZED_NAME.
            refused = any(s in str(e).upper() for s in ("CALLBACK_FAILED", "UNRECOGNIZED_NAME"))
            reason = "sni_mismatch" if refused else "client_tls_failed"
            REQUESTS.labels("denied" if refused else "error", "intercept").inc()
            resource = format_authority(session.host, session.port)
            detail = {"reason": reason, "rule": rule.label}
            self.audit(session.identity, rid, "intercept", resource, "denied", 403, started, detail)
            return
        HANDSHAKE.observe(time.perf_counter() - t)
        self.sessions.add(session)
        ACTIVE_TUNNELS.inc()
        try:
            inner = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
            await RequestLoop(self, inner, reader, writer, session, rule, tls=True).serve_intercepted()
        finally:
            self.sessions.discard(session)
            ACTIVE_TUNNELS.dec()

    async def _plain_http(
        self,
        conn: h11.Connection,
        request: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        identity: Identity,
        rid: str,
        started: float,
    ) -> None:
        try:
            scheme, authority, origin = split_absolute_form(request.target.decode("latin-1"))
            host, port = parse_authority(authority, 80)
        except (PathError, HostError) as e:
            raise ProxyError(400, f"bad_target:{e.reason}", "the request target is not a valid http:// URL") from None
        if scheme != "http":
            raise ProxyError(400, "use_connect", "https:// URLs go through CONNECT")
        decision = self.runtime.policy(identity.agent_id).decide_connect(host, port)
        if not decision.allowed or decision.rule is None:
            # Named like an allowed request's row (RequestLoop.forward): method, host:port + path, no query.
            resource = format_authority(host, port) + origin.split("?", 1)[0][:200]
            self._deny(identity, rid, request.method.decode("latin-1"), resource, decision, started)
        assert decision.rule is not None
        session = Session(identity, host, port, writer)
        self.sessions.add(session)  # so a reload that revokes access closes a keep-alive connection too
        try:
            first = h11.Request(method=request.method, target=origin.encode("latin-1"), headers=request.headers)
            await RequestLoop(self, conn, reader, writer, session, decision.rule, tls=False).serve_plain(first)
        finally:
            self.sessions.discard(session)


def _basic(value: str | None) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    agent, sep, token = decoded.partition(":")
    return (agent, token) if sep else (None, None)
