"""The request loop inside an intercepted tunnel (and on a plain-HTTP proxy connection).

Each request: vet it (`egress.vet`, pure) → take a pooled upstream connection or dial one →
relay the request and the response, re-framed by h11 → exactly one audit event, whatever
happened: allowed, refused, failed, or cut part-way (client gone, access revoked, upstream
error), with the bytes that crossed each way and the request id the client got in
`x-request-id`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import h11
from h11._headers import Headers

import audit
from egress.credentials import CredentialError, OutgoingRequest
from egress.hosts import HostError, format_authority, parse_authority
from egress.http1 import (
    Cut,
    NoResponse,
    ProxyError,
    Watchdog,
    body_event,
    copy_body,
    next_event,
    response_head,
    send_error,
    whole_body,
)
from egress.metrics import BYTES, REQUESTS
from egress.paths import PathError, split_absolute_form
from egress.policy import Rule, RuleDecision
from egress.rules import Identity
from egress.upstream import Upstream
from egress.vet import HOP_BY_HOP, ForwardPlan, header, message_for, status_for, upgrade_headers, vet_request

if TYPE_CHECKING:
    from egress.proxy import EgressProxy

# The audit result of a relay cut part-way, by reason.
CUT_RESULT: dict[str, audit.Result] = {
    "client_gone": "error",
    "upstream_error": "error",
    "revoked": "denied",
    "rule_removed": "denied",
    "byte_cap": "denied",
    "duration_cap": "denied",
}


@dataclass(eq=False)
class Session:
    """One client connection to one origin (a CONNECT tunnel, or a plain-HTTP keep-alive connection)."""

    identity: Identity
    host: str
    port: int
    writer: asyncio.StreamWriter  # the client's
    upstream: Upstream | None = None  # the upstream connection in use right now
    cut: str | None = None  # set when tollgate ends the session (a reload revoked access)
    host_header: str | None = None  # the last Host value that matched: keep-alive requests repeat it
    authority: str = field(init=False)  # host:port as audit rows name it

    def __post_init__(self) -> None:
        self.authority = format_authority(self.host, self.port)

    def sever(self, why: str) -> None:
        """End both sides at once: the client's connection and whatever upstream it is using."""
        self.cut = why
        self.writer.close()
        if self.upstream is not None:
            self.upstream.abort()


@dataclass(slots=True)
class Exchange:
    """One request's audit record, filled in as it goes."""

    request_id: str
    action: str
    resource: str
    started: float = field(default_factory=time.perf_counter)
    moved: list[int] = field(default_factory=lambda: [0, 0])  # bytes to upstream, bytes from upstream
    status: int = 0
    result: audit.Result = "error"
    reason: str | None = None
    cut: str | None = None


def relayed_response(response: h11.Response, request_id: str) -> h11.Response:
    """The origin's response head as the client gets it: hop-by-hop headers dropped, `x-request-id`
    added. h11 validated these headers when it parsed them; building the event through its public
    constructor validates them all again (and iterating them goes through a generic Sequence), a
    twentieth of an intercepted request's CPU. So the event is built the way h11's own parser
    builds it (`_parsed=True`, pinned h11==0.16.0; tests/test_unit_intercept.py holds it to the
    public path's bytes). Names go out lower-cased, as before."""
    items = [(name, name, value) for _, name, value in response.headers._full_items if name not in HOP_BY_HOP]
    items.append((b"x-request-id", b"x-request-id", request_id.encode()))
    return h11.Response(status_code=response.status_code, headers=Headers(items), reason=response.reason, _parsed=True)


class RequestLoop:
    """The requests of one client connection to one origin: inside an intercepted TLS tunnel
    (`tls`), or on a plain-HTTP proxy connection."""

    def __init__(
        self,
        door: EgressProxy,
        inner: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        rule: Rule,
        tls: bool,
    ) -> None:
        self.door = door
        self.inner = inner
        self.reader = reader
        self.writer = writer
        self.session = session
        self.rule = rule
        self.tls = tls
        self.mode = "intercept" if tls else "http"
        self.dog = Watchdog()

    async def serve_intercepted(self) -> None:
        """Requests inside a terminated TLS tunnel, until either side ends it or one is refused."""
        try:
            inner, dog = self.inner, self.dog
            while True:
                try:
                    request = await dog.wait(self.door.runtime.settings.idle_timeout_s, next_event(inner, self.reader))
                    if not isinstance(request, h11.Request):
                        return
                    keep = await self.forward(request)
                except h11.RemoteProtocolError as e:
                    await send_error(inner, self.writer, ProxyError(400, "bad_request", f"malformed request: {e}"))
                    return
                except ProxyError as e:  # refused inside the tunnel: answer there, then close it
                    await send_error(inner, self.writer, e)
                    return
                if not keep or inner.our_state is not h11.DONE or inner.their_state is not h11.DONE:
                    return
                inner.start_next_cycle()
        finally:
            self.dog.close()

    async def serve_plain(self, request: h11.Request) -> None:
        """Absolute-form `http://` requests on one keep-alive connection, all to the first one's
        origin. `request` carries the origin-form target already; a refusal propagates (ProxyError)."""
        try:
            conn, session = self.inner, self.session
            while True:
                keep = await self.forward(request)
                if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
                nxt = await self.dog.wait(self.door.runtime.settings.idle_timeout_s, next_event(conn, self.reader))
                if not isinstance(nxt, h11.Request):
                    return
                try:
                    _, authority, origin = split_absolute_form(nxt.target.decode("latin-1"))
                    if parse_authority(authority, 80) != (session.host, session.port):
                        return  # a keep-alive connection serves one origin
                except (PathError, HostError):
                    return
                request = h11.Request(method=nxt.method, target=origin.encode("latin-1"), headers=nxt.headers)
        finally:
            self.dog.close()

    async def forward(self, request: h11.Request) -> bool:
        """One request through, and its one audit event. True: the connection may carry another."""
        session, rule = self.session, self.rule
        path = request.target.decode("latin-1").split("?", 1)[0]
        resource = session.authority + path[:200]  # no query strings in audit rows
        ex = Exchange(self.door.new_id(), request.method.decode("latin-1"), resource)
        try:
            plan = vet_request(
                rule, session.host, session.port, request.method, request.target, request.headers, self.tls,
                self.door.runtime.injection, session.host_header,
            )  # fmt: skip
            if isinstance(plan, RuleDecision):
                raise ProxyError(status_for(plan.reason), plan.reason, message_for(plan.reason, ex.action, path))
            session.host_header = plan.host_header
            return await self._relay(ex, plan)
        except ProxyError as e:
            ex.status, ex.reason = e.status, e.reason
            ex.result = "error" if e.status in (502, 504) else "denied"
            e.request_id = ex.request_id
            raise
        finally:
            if ex.cut is not None:
                ex.result = CUT_RESULT[ex.cut]
            self._record(ex)

    def _record(self, ex: Exchange) -> None:
        REQUESTS.labels(ex.result, self.mode).inc()
        BYTES.labels("out").inc(ex.moved[0])
        BYTES.labels("in").inc(ex.moved[1])
        detail: dict[str, object] = {"rule": self.rule.label}
        if ex.reason is not None:
            detail["reason"] = ex.reason
        if ex.cut is not None:
            detail["cut"] = ex.cut
        if ex.result == "allowed" and self.rule.secrets:
            detail["injected"] = sorted(self.rule.secrets)
        if ex.moved[0] or ex.moved[1] or ex.result == "allowed" or ex.cut:
            detail["bytes_out"], detail["bytes_in"] = ex.moved
        identity = self.session.identity
        self.door.audit(identity, ex.request_id, ex.action, ex.resource, ex.result, ex.status, ex.started, detail)

    async def _dial(self) -> Upstream:
        return await self.door.dialer.dial(self.session.host, self.session.port, self.rule.allow_private, self.tls)

    async def _relay(self, ex: Exchange, plan: ForwardPlan) -> bool:
        inner, reader, session = self.inner, self.reader, self.session
        # Parse the start of the body before anything goes upstream: a malformed first chunk is
        # refused here, and the origin never sees a request that cannot be completed.
        if inner.they_are_waiting_for_100_continue:
            self.writer.write(inner.send(h11.InformationalResponse(status_code=100, headers=[])))
        first = await body_event(inner, reader)
        headers, body = await self._credentials(plan, first)
        key = (session.identity.agent_id, session.host, session.port)
        conn = self.door.pool.get(key)
        # A reused connection the origin dropped while idle fails before any byte of answer: the
        # request is sent again once on a fresh one if repeating it is safe and its body is not
        # streaming past (RFC 9112 §9.3.1).
        retry = conn is not None and plan.idempotent and (body is not None or isinstance(first, h11.EndOfMessage))
        if conn is None:
            conn = await self._dial()
        head = h11.Request(method=plan.method, target=plan.target, headers=headers)
        timeout_s = self.door.runtime.settings.idle_timeout_s
        reusable = False
        try:
            while True:
                session.upstream = conn
                up = conn.next_cycle()
                try:
                    try:
                        if body is None:
                            await copy_body(inner, reader, up, conn.writer, ex.moved, 0, True, first, up.send(head))
                        else:
                            parts = [up.send(head), up.send(h11.Data(data=body)) if body else b""]
                            conn.writer.write(b"".join([*parts, up.send(h11.EndOfMessage())]))
                            ex.moved[0] = len(body)
                    except Cut as c:
                        if c.at_source:
                            ex.cut = "client_gone"
                            raise
                        raise NoResponse from None  # the write upstream failed: nothing was answered
                    response = await self.dog.wait(timeout_s, response_head(up, conn.reader))
                    break
                except NoResponse:
                    conn.abort()
                    if session.cut is not None:
                        raise Cut(at_source=True) from None
                    if not retry:
                        raise ProxyError(502, "upstream_closed", "the upstream closed without answering") from None
                    retry = False
                    conn = await self._dial()
            while isinstance(response, h11.InformationalResponse):
                if response.status_code == 101 and plan.upgrade:
                    await self._websocket(ex, up, conn, response)
                    return False
                response = await next_event(up, conn.reader)
            if not isinstance(response, h11.Response):
                raise ProxyError(502, "upstream_protocol", "the upstream closed without answering")
            ex.status = response.status_code
            out = inner.send(relayed_response(response, ex.request_id))
            try:
                await copy_body(up, conn.reader, inner, self.writer, ex.moved, 1, False, prefix=out)
            except Cut as c:
                ex.cut = "upstream_error" if c.at_source else "client_gone"
                raise
            reusable = up.our_state is h11.DONE and up.their_state is h11.DONE
            ex.result = "allowed"
            return True
        except Cut:
            ex.cut = session.cut or ex.cut or "upstream_error"
            return False
        except TimeoutError:
            raise ProxyError(504, "upstream_timeout", "the upstream did not answer in time") from None
        except (h11.RemoteProtocolError, h11.LocalProtocolError, OSError) as e:
            raise ProxyError(502, "upstream_error", f"upstream failed: {e.__class__.__name__}") from None
        finally:
            session.upstream = None
            if reusable:
                self.door.pool.put(key, conn)
            else:
                conn.abort()

    async def _credentials(self, plan: ForwardPlan, first: object) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        """The headers to send, with the rule's credential applied (if it has one), and the whole
        body when the credential had to read it (it signs it); None: the body streams."""
        credential = self.rule.credential
        if credential is None:
            return plan.headers, None
        headers, body = plan.headers, None
        if credential.needs_body(list(plan.client_headers)):
            body = await whole_body(self.inner, self.reader, first)
            headers = [(n, v) for n, v in headers if n not in (b"content-length", b"transfer-encoding")]
            headers.append((b"content-length", str(len(body)).encode()))
        session = self.session
        outgoing = OutgoingRequest(
            plan.method.decode("latin-1"), plan.target.decode("latin-1"), session.host, session.port,
            list(plan.client_headers), headers, body,
        )  # fmt: skip
        try:
            broker, secrets = self.door.credentials, self.door.runtime.secrets
            applied = await broker.apply(credential, session.identity, secrets, outgoing)
        except CredentialError as e:
            raise ProxyError(e.status, e.reason, e.message) from None
        return applied, body

    async def _websocket(
        self, ex: Exchange, up: h11.Connection, conn: Upstream, response: h11.InformationalResponse
    ) -> None:
        """The origin switched protocols: pass its 101 on, then relay raw frames both ways."""
        writer = self.writer
        headers = [(n, v) for n, v in response.headers if n not in HOP_BY_HOP]
        headers += [*upgrade_headers(header(response.headers, b"upgrade") or "websocket")]
        headers.append((b"x-request-id", ex.request_id.encode()))
        writer.write(
            self.inner.send(h11.InformationalResponse(status_code=101, headers=headers, reason=response.reason))
        )
        # Bytes either side sent right behind the handshake are already in h11's buffers.
        if self.inner.trailing_data[0]:
            conn.writer.write(bytes(self.inner.trailing_data[0]))
        if up.trailing_data[0]:
            writer.write(bytes(up.trailing_data[0]))
        ex.action, ex.status = "WEBSOCKET", 101
        cut = await self.door.pump((self.reader, writer), (conn.reader, conn.writer), ex.moved)
        ex.cut = self.session.cut or cut
        ex.result = "allowed"
