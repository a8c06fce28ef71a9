"""The LLM door: OpenAI-compatible routes, the Responses API and the Messages API in front of the
configured providers (what differs between those protocols lives in `gateway.protocols`).

Per request: authenticate → read and validate the body → route the model → mask PII → reserve
the worst-case cost on every budget level → call the provider → relay (streams chunk by chunk,
values restored) → account tokens and cost → settle the budget → metrics and one audit event.

Masking comes before the reservation (DESIGN.md draws them the other way round): a request the
PII policy refuses then costs no budget-store round trip, and the estimate counts the prompt
that is actually sent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
import tiktoken
from aiohttp import web

import audit
from budget import BudgetGuard, Price, Reservation, agent_budgets, clamp_for, to_nano, to_usd, worst_case
from config import Config, Model, Provider
from gateway import metrics
from gateway.auth import Directory, Principal, bearer_token, model_decision
from gateway.errors import ApiError, bad_request
from gateway.payloads import Endpoint, parse_json, validate
from gateway.protocols import ADAPTERS, Adapter
from gateway.relay import EventRelay
from gateway.tokenizer import count_text, encoding_for_model
from gateway.upstream import HttpUpstream, MockUpstream, Upstream, UpstreamResponse
from pii import (
    PiiBlocked,
    PiiFailure,
    Policy,
    Span,
    StreamUnmasker,
    Vault,
    agent_pii_policies,
    mask_payload,
    policy_from,
    request_slots,
)

if TYPE_CHECKING:
    from pii.ner import NerEngine

log = logging.getLogger("tollgate.llm")

# Client went away before the response was complete (nginx's convention; not sent to anyone).
CLIENT_CLOSED = 499


@dataclass(frozen=True, slots=True)
class Route:
    model: Model
    provider: Provider
    upstream: Upstream
    price: Price
    enc: tiktoken.Encoding


class Runtime:
    """Everything derived from one config version; replaced whole on reload, never mutated."""

    def __init__(self, config: Config, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.directory = Directory(config)
        self.budgets = agent_budgets(config)
        self.pii = {agent: policy_from(p) for agent, p in agent_pii_policies(config).items()}
        self.routes: dict[str, Route] = {}
        for p in config.providers:
            upstream: Upstream = (
                MockUpstream(p, encoding_for_model) if p.kind == "mock" else HttpUpstream(p, session, config.limits)
            )
            for m in p.models:
                price = Price(m.input_usd_per_1m, m.output_usd_per_1m)
                self.routes[m.name] = Route(m, p, upstream, price, encoding_for_model(m.upstream_name or m.name))


@dataclass(slots=True, eq=False)
class Call:
    """What one request has done so far, for accounting whatever way it ends."""

    request_id: str
    t0: float
    endpoint: Endpoint
    principal: Principal | None = None
    route: Route | None = None
    model: str = ""
    stream: bool = False
    prompt_estimate: int = 0
    max_output: int = 0
    upstream_s: float = 0.0
    revoked: bool = False
    finished: bool = False
    surface: audit.Surface = "llm"
    adapter: Adapter = ADAPTERS[Endpoint.CHAT]
    vault: Vault | None = None
    pii_counts: dict[str, int] = field(default_factory=dict)
    reservation: Reservation | None = None
    budget_remaining: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def overhead_ms(self) -> str:
        return f"{max(0.0, (time.perf_counter() - self.t0 - self.upstream_s) * 1000):.3f}"

    def headers(self) -> dict[str, str]:
        headers = {"x-request-id": self.request_id, "x-tollgate-overhead-ms": self.overhead_ms()}
        if self.budget_remaining is not None:
            headers["x-tollgate-budget-remaining"] = f"{self.budget_remaining:.6f}"
        return headers


class _RequestIds:
    """`req_` + a random per-process prefix + a counter: unique without a syscall per request."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = "req_" + os.urandom(6).hex()
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):010x}"


new_request_id = _RequestIds()


_KNOWN_PATHS = {**{a.path: "POST" for a in ADAPTERS.values()}, "/v1/models": "GET"}


class LLMDoor:
    def __init__(self, runtime: Runtime, guard: BudgetGuard) -> None:
        self.runtime = runtime
        self.guard = guard
        self._streams: dict[str, set[tuple[Call, asyncio.Task[Any]]]] = {}
        self._ner: NerEngine | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=2**40)  # limits are enforced per request from config
        for adapter in ADAPTERS.values():
            app.router.add_post(adapter.path, self._handler(adapter))
        app.router.add_get("/v1/models", self._models)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    def swap(self, runtime: Runtime) -> int:
        """Install a new config version; cut the open streams of tokens it no longer knows."""
        self.runtime = runtime
        cut = 0
        for token_hash in [h for h in self._streams if h not in runtime.directory]:
            for call, task in self._streams.pop(token_hash):
                call.revoked = True
                task.cancel()
                cut += 1
        return cut

    # -- routes -------------------------------------------------------------------------------

    def _handler(self, adapter: Adapter) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._proxy(request, adapter)

        return handle

    async def _models(self, request: web.Request) -> web.Response:
        call = Call(new_request_id(), time.perf_counter(), Endpoint.CHAT)
        try:
            principal = self._authenticate(request, call)
        except ApiError as e:
            return e.response(call.headers())
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": route.provider.name}
            for name, route in self.runtime.routes.items()
            if principal.models is None or name in principal.models
        ]
        return web.Response(
            body=orjson.dumps({"object": "list", "data": data}), content_type="application/json", headers=call.headers()
        )

    async def _unknown(self, request: web.Request) -> web.Response:
        headers = {"x-request-id": new_request_id(), "x-tollgate-overhead-ms": "0.000"}
        anthropic = request.path.startswith(ADAPTERS[Endpoint.MESSAGES].path)  # e.g. /v1/messages/count_tokens
        method = _KNOWN_PATHS.get(request.path)
        if method:
            err = ApiError(
                405, f"{request.method} is not allowed on {request.path}: use {method}", code="method_not_allowed"
            )
            return err.response({**headers, "Allow": method}, anthropic)
        err = ApiError(404, f"unknown route {request.method} {request.path}", code="unknown_route")
        return err.response(headers, anthropic)

    # -- the proxy path -----------------------------------------------------------------------

    def _authenticate(self, request: web.Request, call: Call) -> Principal:
        token = bearer_token(request.headers.get("Authorization"), request.headers.get("x-api-key"))
        principal = self.runtime.directory.authenticate(token)
        if principal is None:
            reason = "missing_token" if token is None else "invalid_token"
            metrics.AUTH_FAILURES.labels("llm").inc()
            audit.emit(
                audit.AuditEvent(
                    "auth",
                    "authenticate",
                    "denied",
                    call.request_id,
                    actor_type="anonymous",
                    resource=request.path,
                    status=401,
                    detail={"reason": reason, "door": "llm"},
                )
            )
            message = (
                "missing API key: send 'Authorization: Bearer <agent token>' or 'x-api-key: <agent token>'"
                if token is None
                else "invalid API key: the token is unknown or revoked"
            )
            raise ApiError(401, message, "invalid_request_error", "invalid_api_key")
        call.principal = principal
        return principal

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.runtime.config.limits.max_body_bytes
        too_large = ApiError(413, f"request body larger than {limit} bytes", code="request_too_large")
        length = request.content_length
        if length is not None:
            if length > limit:
                raise too_large
            return await request.read()
        body = bytearray()
        async for chunk in request.content.iter_any():
            body += chunk
            if len(body) > limit:
                raise too_large
        return bytes(body)

    async def _proxy(self, request: web.Request, adapter: Adapter) -> web.StreamResponse:
        endpoint = adapter.endpoint
        call = Call(new_request_id(), time.perf_counter(), endpoint, adapter=adapter)
        metrics.LLM_IN_FLIGHT.inc()
        try:
            self._authenticate(request, call)
            payload = parse_json(await self._read_body(request), _media_type(request))
            validate(endpoint, payload)
            route = self._route(call, payload)
            await self._mask(call, payload)
            self._prepare(call, route, payload)
            await self._reserve(call, route, payload)
            body = orjson.dumps(payload)
            headers = adapter.upstream_headers(request.headers, route.provider)
            t = time.perf_counter()
            try:
                upstream = await route.upstream.open(endpoint.value, payload, body, call.request_id, headers)
            finally:
                call.upstream_s += time.perf_counter() - t
            if call.stream and upstream.status == 200:
                return await self._relay_stream(request, call, upstream)
            return await self._relay_unary(call, upstream)
        except ApiError as e:
            self._finish(call, e.status, 0, 0, reason=e.code or e.type)
            return e.response(call.headers(), adapter.anthropic_errors)
        except asyncio.CancelledError:
            self._finish(call, CLIENT_CLOSED, 0, 0, reason="client_closed")
            raise
        except Exception:
            if call.finished:  # a stream already under way: nothing more can be said to the client
                raise
            log.exception("internal error in request %s", call.request_id)
            self._finish(call, 500, 0, 0, reason="internal_error")
            error = ApiError(500, "internal error in tollgate", "server_error")
            return error.response(call.headers(), adapter.anthropic_errors)
        finally:
            metrics.LLM_IN_FLIGHT.dec()

    def _route(self, call: Call, payload: dict[str, Any]) -> Route:
        assert call.principal is not None
        model = payload["model"]
        route = self.runtime.routes.get(model)
        decision = model_decision(call.principal, model, route is not None)
        if not decision.allowed:
            if decision.status == 404:
                raise ApiError(404, f"the model '{model}' does not exist", code="model_not_found", param="model")
            raise ApiError(
                403, f"this agent may not use the model '{model}'", "permission_error", "model_not_allowed", "model"
            )
        assert route is not None
        if route.model.kind != call.endpoint.model_kind:
            raise bad_request(
                f"'{model}' is an {route.model.kind} model and cannot serve {call.endpoint.value}",
                param="model",
                code="wrong_model_kind",
            )
        if route.provider.kind not in call.adapter.provider_kinds:
            raise bad_request(
                f"'{model}' is served by an {route.provider.kind} provider, which does not speak "
                f"{call.adapter.path}; use {'/v1/messages' if route.provider.kind == 'anthropic' else '/v1/responses'}",
                param="model",
                code="wrong_protocol",
            )
        call.route = route
        call.model = model
        return route

    def ner(self) -> NerEngine:
        """The NER tier's process pool, started on first need (spaCy is heavy; most policies skip it)."""
        if self._ner is None:
            from pii.ner import NerEngine

            limits = self.runtime.config.limits
            self._ner = NerEngine(processes=limits.ner_processes, timeout_s=limits.ner_timeout_s)
        return self._ner

    def close(self) -> None:
        if self._ner is not None:
            self._ner.close()

    async def _ner_spans(self, call: Call, payload: dict[str, Any], policy: Policy) -> list[list[Span]]:
        texts = [slot.text for slot in request_slots(call.endpoint.value, payload)]
        started = time.perf_counter()
        try:
            spans = await self.ner().detect(texts, policy.types)
        except Exception as e:  # timeouts, a crashed worker, missing packages: all fail the same way
            raise PiiFailure(f"NER detection failed: {e.__class__.__name__}") from None
        metrics.PII_DETECT_SECONDS.labels("ner").observe(time.perf_counter() - started)
        return spans

    async def _mask(self, call: Call, payload: dict[str, Any]) -> None:
        """Mask PII before anything leaves; a block or a detection failure refuses the request."""
        assert call.principal is not None
        policy = self.runtime.pii.get(call.principal.agent_id)
        if policy is None or not policy.enabled:
            return
        vault = Vault()
        try:
            ner_spans = await self._ner_spans(call, payload, policy) if policy.ner else None
            elapsed = mask_payload(call.endpoint.value, payload, policy, vault, ner_spans=ner_spans)
        except PiiBlocked as e:
            metrics.PII_BLOCKED.inc()
            for type_ in e.types:
                metrics.PII_ENTITIES.labels(type_, "block").inc()
            call.detail["pii_blocked"] = e.types
            raise ApiError(
                400,
                f"the request contains data this agent may not send: {', '.join(e.types)}; nothing was sent",
                "pii_policy",
                "pii_blocked",
            ) from None
        except PiiFailure as e:
            if policy.fail_closed:
                metrics.PII_BLOCKED.inc()
                raise ApiError(
                    400, f"PII masking could not be applied ({e}); the request was not sent", "pii_policy",
                    "pii_detection_failed",
                ) from None  # fmt: skip
            call.detail["pii_unchecked"] = True
            return
        metrics.PII_DETECT_SECONDS.labels("pattern").observe(elapsed)
        for type_, n in vault.counts.items():
            metrics.PII_ENTITIES.labels(type_, "mask").inc(n)
        call.pii_counts = dict(vault.counts)
        if vault and policy.unmask_responses and call.endpoint is not Endpoint.EMBEDDINGS:
            call.vault = vault

    def _prepare(self, call: Call, route: Route, payload: dict[str, Any]) -> None:
        """Estimate the prompt and the worst-case output; adapt the payload for the provider."""
        adapter = call.adapter
        call.prompt_estimate = adapter.count_prompt(route.enc, payload)
        call.max_output = adapter.output_cap(payload, route.model.max_output_tokens)
        call.stream = bool(payload.get("stream"))
        adapter.prepare(payload, route.provider, call.detail)
        if route.model.upstream_name:
            payload["model"] = route.model.upstream_name

    async def _reserve(self, call: Call, route: Route, payload: dict[str, Any]) -> None:
        """Reserve the worst-case cost on every budget level, or refuse the request (429)."""
        assert call.principal is not None
        budget = self.runtime.budgets.get(call.principal.agent_id)
        if budget is None or not budget.limited:
            return
        plan = self.guard.plan(budget)
        amount = worst_case(route.price, call.prompt_estimate, call.max_output)
        clamp = None
        n = call.adapter.choices(payload)
        if budget.clamp and call.max_output:
            clamp = clamp_for(route.price, call.prompt_estimate, n, self.guard.settings.clamp_min_tokens)
        verdict, reservation = await self.guard.reserve(plan, call.request_id, amount, clamp)
        if reservation is not None and reservation.tokens >= 0:
            # The store shrank the request to what is left, in the same round trip.
            payload[call.adapter.output_key(payload)] = reservation.tokens
            call.max_output = reservation.tokens * n
            call.detail["clamped_max_tokens"] = reservation.tokens
            amount = reservation.amount
        if not verdict.allowed:
            call.surface = "budget"
            counter = verdict.counter
            if counter is None:
                raise ApiError(
                    503, "the budget store is unavailable and this appliance is set to fail closed",
                    "budget_unavailable", "budget_store_unavailable",
                )  # fmt: skip
            retry = verdict.retry_after(self.guard.clock())
            raise ApiError(
                429,
                f"budget exceeded: the {counter.level} {counter.period} limit of "
                f"${to_usd(counter.limit):.2f} is reached (this request could cost up to ${to_usd(amount):.6f})",
                "budget_exceeded",
                counter.name,
                headers={"Retry-After": str(retry)} if retry else None,
            )
        call.reservation = reservation
        if verdict.unchecked:
            call.detail["budget_unchecked"] = True
        elif verdict.headroom is not None:
            call.budget_remaining = to_usd(verdict.headroom)

    async def _relay_unary(self, call: Call, upstream: UpstreamResponse) -> web.Response:
        t = time.perf_counter()
        try:
            body = await upstream.read()
        finally:
            call.upstream_s += time.perf_counter() - t
        if upstream.status != 200:
            return self._upstream_error(call, upstream.status, body)
        tokens_in, tokens_out = call.prompt_estimate, 0
        adapter = call.adapter
        try:
            reply = orjson.loads(body)
            if not isinstance(reply, dict):
                raise TypeError
            usage = adapter.reply_tokens(reply, call.route.enc) if call.route else None
            if usage is not None:
                tokens_in, tokens_out = usage
            elif call.route is not None:
                tokens_out = sum(count_text(call.route.enc, s) for s in adapter.reply_text(reply))
            if call.vault is not None:
                adapter.unmask_reply(reply, call.vault)
                body = orjson.dumps(reply)
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
            call.detail["unparsed_reply"] = True
        self._finish(call, 200, tokens_in, tokens_out)
        return web.Response(body=body, content_type=upstream.content_type or "application/json", headers=call.headers())

    def _upstream_error(self, call: Call, status: int, body: bytes) -> web.Response:
        """Provider errors keep their status; bodies not in the route's error shape are wrapped."""
        try:
            shaped = call.adapter.error_shaped(orjson.loads(body))
        except orjson.JSONDecodeError:
            shaped = False
        if not shaped:
            error = ApiError(status, f"the model provider returned HTTP {status}", "upstream_error")
            body = error.anthropic_body() if call.adapter.anthropic_errors else error.body()
        self._finish(call, status, 0, 0, reason="upstream_status")
        return web.Response(status=status, body=body, content_type="application/json", headers=call.headers())

    async def _relay_stream(self, request: web.Request, call: Call, upstream: UpstreamResponse) -> web.StreamResponse:
        unmasker = StreamUnmasker(call.vault) if call.vault is not None else None
        relay = call.adapter.relay(unmasker, bool(call.detail.get("usage_injected")))
        resp = _EventStream(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **call.headers()}
        )
        status = 200
        task = asyncio.current_task()
        assert task is not None and call.principal is not None
        entry = (call, task)
        self._streams.setdefault(call.principal.token_hash, set()).add(entry)
        first = True
        last = b""  # the stream's final bytes go out together with the chunked terminator
        try:
            await resp.prepare(request)
            try:
                async for chunk in upstream.chunks():
                    out = relay.feed(chunk)
                    if out and first:
                        metrics.LLM_TTFT.labels(call.model).observe(time.perf_counter() - call.t0)
                        first = False
                    if relay.done or relay.failed:
                        last = out
                        break
                    if out:
                        # write() waits for the socket to drain: back-pressure reaches the provider.
                        await resp.write(out)
                tail = relay.finish()
            except TimeoutError:
                tail = relay.abort("the model provider stopped sending (read timeout)")
            except aiohttp.ClientError:
                tail = relay.finish()
            except asyncio.CancelledError:
                if not call.revoked:
                    raise
                task.uncancel()
                tail = relay.abort("the agent's token was revoked")
            await resp.write_eof(last + tail)
        except asyncio.CancelledError:
            status = CLIENT_CLOSED  # the client went away: charge what was generated, then stop
            raise
        except ConnectionResetError:
            status = CLIENT_CLOSED  # gone between two writes: nothing more can reach it
        finally:
            upstream.close()
            streams = self._streams.get(call.principal.token_hash)
            if streams is not None:
                streams.discard(entry)
                if not streams:
                    del self._streams[call.principal.token_hash]
            self._settle_stream(call, relay, status)
        return resp

    def _settle_stream(self, call: Call, relay: EventRelay, status: int) -> None:
        usage = relay.usage()
        if usage is not None:
            tokens_in, tokens_out = usage
        else:
            tokens_in = call.prompt_estimate
            tokens_out = count_text(call.route.enc, relay.generated_text()) if call.route else 0
        reason = "revoked" if call.revoked else ("stream_error" if relay.failed else None)
        self._finish(call, status, tokens_in, tokens_out, reason=reason)

    def _finish(self, call: Call, status: int, tokens_in: int, tokens_out: int, reason: str | None = None) -> None:
        if call.finished:
            return
        call.finished = True
        elapsed = time.perf_counter() - call.t0
        model = call.model or "-"
        route = call.endpoint.value.lstrip("/")
        metrics.LLM_REQUESTS.labels(route, model, str(status)).inc()
        cost = 0.0
        if call.route is not None:
            metrics.LLM_DURATION.labels(route, model).observe(elapsed)
            if tokens_in or tokens_out:
                cost = call.route.price.cost_usd(tokens_in, tokens_out)
                metrics.LLM_TOKENS.labels(model, "in").inc(tokens_in)
                metrics.LLM_TOKENS.labels(model, "out").inc(tokens_out)
                metrics.LLM_COST.labels(model).inc(cost)
        if call.reservation is not None:
            self.guard.settle(call.reservation, to_nano(cost) if cost else 0)
            call.reservation = None
        if call.principal is None:
            return  # authentication failures were audited where they happened
        p = call.principal
        if reason:
            call.detail["reason"] = reason
        call.detail["prompt_estimate"] = call.prompt_estimate
        if call.vault is not None and call.vault.unknown:
            call.detail["pii_unknown_placeholders"] = call.vault.unknown
        result: audit.Result = (
            "allowed" if status < 400 else ("error" if status >= 500 or status == CLIENT_CLOSED else "denied")
        )
        audit.emit(
            audit.AuditEvent(
                call.surface,
                route,
                result,
                call.request_id,
                p.org_id,
                p.team_id,
                "agent",
                p.agent_id,
                resource=model,
                status=status,
                latency_ms=round(elapsed * 1000, 3),
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                cost_usd=cost,
                pii_counts=call.pii_counts,
                detail=call.detail,
            )
        )


class _EventStream(web.StreamResponse):
    """An SSE response whose headers leave with its first chunk: one write instead of two."""

    _send_headers_immediately = False


def _media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip()
