"""The LLM door: OpenAI-compatible routes, the Responses API and the Messages API in front of the
configured providers (what differs between those protocols lives in `gateway.protocols`).

Per request: authenticate → read and validate the body → admit (route the model) → mask PII →
estimate and reserve the worst-case cost on every budget level → call the provider → relay
(streams chunk by chunk, values restored) → account: tokens and cost, settle, one audit event.

This is the shell. The decisions are pure and live elsewhere: `gateway.auth` and
`gateway.admission` (who, which route, what it may cost), `pii` (masking), `budget` (the
reservation); the stream loop is `gateway.streaming`, the accounting `gateway.accounting`. Every
refusal is a `Decision` with a reason; `STATUS` below is where reasons become status codes.

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
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web

import audit
from budget import EXCEEDED_REASONS, BudgetDecision, BudgetGuard, Price, agent_budgets, to_usd
from config import Config, Decision
from gateway import metrics
from gateway.accounting import CLIENT_CLOSED, Call, Outcome, account
from gateway.admission import Estimate, Route, admit, apply_clamp, budget_ask, estimate, pii_decision
from gateway.auth import Directory, Principal, authenticate
from gateway.errors import ApiError
from gateway.payloads import Endpoint, parse_json, validate, validate_count_tokens
from gateway.protocols import ADAPTERS, Adapter
from gateway.streaming import OpenStreams, relay_stream
from gateway.tokenizer import count_text, encoding_for_model
from gateway.upstream import HttpUpstream, MockUpstream, Upstream, UpstreamResponse
from pii import (
    MaskingPolicy,
    PiiBlocked,
    PiiFailure,
    Span,
    Vault,
    agent_pii_policies,
    mask_payload,
    policy_from,
    request_slots,
)

if TYPE_CHECKING:
    from pii.ner import NerEngine

log = logging.getLogger("tollgate.llm")

# Status code per refusal reason: only this door knows it speaks HTTP. The reason reaches the
# audit row and, as the error's `code`, the client; auth refusals keep OpenAI's `invalid_api_key`
# and a fail-closed store `budget_store_unavailable`, the codes clients already handle.
STATUS: dict[str, int] = {
    "missing_token": 401,
    "invalid_token": 401,
    "model_not_allowed": 403,
    "model_not_found": 404,
    "wrong_model_kind": 400,
    "wrong_protocol": 400,
    "pii_blocked": 400,  # DESIGN §5: a PII refusal is a 400 with type pii_policy
    "pii_detection_failed": 400,
    "store_unavailable": 503,  # the budget store, with fail_closed
    **dict.fromkeys(EXCEEDED_REASONS, 429),  # a budget counter that would go over
}


def status_for(decision: Decision) -> int:
    """A refusal's status; a reason this table does not know is refused as forbidden."""
    return STATUS.get(decision.reason, 403)


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


COUNT_TOKENS_PATH = ADAPTERS[Endpoint.MESSAGES].path + "/count_tokens"
_KNOWN_PATHS = {**{a.path: "POST" for a in ADAPTERS.values()}, "/v1/models": "GET", COUNT_TOKENS_PATH: "POST"}


class LLMDoor:
    def __init__(self, runtime: Runtime, guard: BudgetGuard) -> None:
        self.runtime = runtime
        self.guard = guard
        self._streams = OpenStreams()
        self._ner: NerEngine | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=2**40)  # limits are enforced per request from config
        for adapter in ADAPTERS.values():
            app.router.add_post(adapter.path, self._handler(adapter))
        app.router.add_get("/v1/models", self._models)
        app.router.add_post(COUNT_TOKENS_PATH, self._count_tokens)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    def swap(self, runtime: Runtime) -> int:
        """Install a new config version; cut the open streams of tokens it no longer knows."""
        self.runtime = runtime
        return self._streams.cut(runtime.directory.__contains__)

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

    async def _count_tokens(self, request: web.Request) -> web.Response:
        """The Messages API's token count (Claude Code asks before turns to size its context):
        the masked prompt counted here with the model's tokenizer, as the budget estimate counts it;
        nothing goes upstream, nothing is charged. The same auth, allow-list, PII policy, error
        shape and one audit event."""
        adapter = ADAPTERS[Endpoint.MESSAGES]
        call = Call(new_request_id(), time.perf_counter(), Endpoint.MESSAGES, "messages.count_tokens", adapter=adapter)
        try:
            self._authenticate(request, call)
            payload = parse_json(await self._read_body(request), _media_type(request))
            validate_count_tokens(payload)
            route = self._admit(call, payload)
            await self._mask(call, payload)  # the provider's context holds the masked prompt
        except ApiError as e:
            self._account(call, Outcome(e.status, reason=e.code or e.type))
            return e.response(call.headers(), anthropic=True)
        tokens = adapter.count_prompt(route.enc, payload)
        call.route = None  # counted, not served: no cost, no latency sample
        self._account(call, Outcome(200, tokens_in=tokens))
        return web.Response(
            body=orjson.dumps({"input_tokens": tokens}), content_type="application/json", headers=call.headers()
        )

    async def _unknown(self, request: web.Request) -> web.Response:
        request_id = new_request_id()
        headers = {"x-request-id": request_id, "x-tollgate-overhead-ms": "0.000"}
        anthropic = request.path.startswith(ADAPTERS[Endpoint.MESSAGES].path)  # e.g. /v1/messages/batches
        if anthropic:
            headers["request-id"] = request_id
        method = _KNOWN_PATHS.get(request.path)
        if method:
            err = ApiError(
                405, f"{request.method} is not allowed on {request.path}: use {method}", code="method_not_allowed"
            )
        else:
            err = ApiError(404, f"unknown route {request.method} {request.path}", code="unknown_route")
        # Audited like any refusal: who asked (when the token is good; never the token itself) for what.
        who = self._who(request)
        agent = who if isinstance(who, Principal) else None
        audit.emit(
            audit.AuditEvent(
                "llm", request.method.lower(), "denied", request_id, org_id=agent.org_id if agent else "",
                team_id=agent.team_id if agent else "", actor_type="agent" if agent else "anonymous",
                actor_id=agent.agent_id if agent else "", resource=request.path[:256], status=err.status,
                detail={"reason": err.code},
            )
        )  # fmt: skip
        return err.response({**headers, "Allow": method} if method else headers, anthropic)

    # -- the proxy path -----------------------------------------------------------------------

    def _who(self, request: web.Request) -> Principal | Decision:
        headers = request.headers
        return authenticate(self.runtime.directory, headers.get("Authorization"), headers.get("x-api-key"))

    def _authenticate(self, request: web.Request, call: Call) -> Principal:
        found = self._who(request)
        if isinstance(found, Principal):
            call.principal = found
            return found
        metrics.AUTH_FAILURES.labels("llm").inc()
        audit.emit(
            audit.AuditEvent(
                "auth", "authenticate", "denied", call.request_id, actor_type="anonymous", resource=request.path,
                status=status_for(found), detail={"reason": found.reason, "door": "llm"},
            )
        )  # fmt: skip
        message = (
            "missing API key: send 'Authorization: Bearer <agent token>' or 'x-api-key: <agent token>'"
            if found.reason == "missing_token"
            else "invalid API key: the token is unknown or revoked"
        )
        raise ApiError(status_for(found), message, "invalid_request_error", "invalid_api_key")

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
            route = self._admit(call, payload)
            await self._mask(call, payload)
            est = self._estimate(call, route, payload)
            await self._reserve(call, route, payload, est)
            body = orjson.dumps(payload)
            headers = adapter.upstream_headers(request.headers, route.provider)
            t = time.perf_counter()
            try:
                upstream = await route.upstream.open(endpoint.value, payload, body, call.request_id, headers)
            finally:
                call.upstream_s += time.perf_counter() - t
            if call.stream and upstream.status == 200:
                return await relay_stream(request, call, upstream, self._streams, self.guard)
            return await self._relay_unary(call, upstream)
        except ApiError as e:
            self._account(call, Outcome(e.status, reason=e.code or e.type))
            return e.response(call.headers(), adapter.anthropic_errors)
        except asyncio.CancelledError:
            self._account(call, Outcome(CLIENT_CLOSED, reason="client_closed"))
            raise
        except Exception:
            if call.finished:  # a stream already under way: nothing more can be said to the client
                raise
            log.exception("internal error in request %s", call.request_id)
            self._account(call, Outcome(500, reason="internal_error"))
            error = ApiError(500, "internal error in tollgate", "server_error")
            return error.response(call.headers(), adapter.anthropic_errors)
        finally:
            metrics.LLM_IN_FLIGHT.dec()

    def _account(self, call: Call, outcome: Outcome) -> None:
        account(call, outcome, self.guard)

    def _admit(self, call: Call, payload: dict[str, Any]) -> Route:
        assert call.principal is not None
        model = payload["model"]
        decision, route = admit(self.runtime.routes, call.principal, call.adapter, model)
        if route is not None:
            call.model = model  # a model of the config: the audit row names what was asked, even if refused
        if not decision.allowed:
            raise _model_refusal(decision, model, route, call.adapter)
        assert route is not None
        call.route = route
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

    async def _ner_spans(self, call: Call, payload: dict[str, Any], policy: MaskingPolicy) -> list[list[Span]]:
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
        except (PiiBlocked, PiiFailure) as e:
            decision = pii_decision(e, policy.fail_closed)
            if decision.allowed:  # fail open, as the policy says: sent as it is, and audited so
                call.detail["pii_unchecked"] = True
                return
            metrics.PII_BLOCKED.inc()
            if isinstance(e, PiiBlocked):
                for type_ in e.types:
                    metrics.PII_ENTITIES.labels(type_, "block").inc()
                call.detail["pii_blocked"] = e.types
                message = f"the request contains data this agent may not send: {', '.join(e.types)}; nothing was sent"
            else:
                message = f"PII masking could not be applied ({e}); the request was not sent"
            raise ApiError(status_for(decision), message, "pii_policy", decision.reason) from None
        metrics.PII_DETECT_SECONDS.labels("pattern").observe(elapsed)
        for type_, n in vault.counts.items():
            metrics.PII_ENTITIES.labels(type_, "mask").inc(n)
        call.pii_counts = dict(vault.counts)
        if vault and policy.unmask_responses and call.endpoint is not Endpoint.EMBEDDINGS:
            call.vault = vault

    def _estimate(self, call: Call, route: Route, payload: dict[str, Any]) -> Estimate:
        est = estimate(call.adapter, route, payload, call.detail)
        call.prompt_estimate, call.max_output, call.stream = est.prompt_tokens, est.max_output, est.stream
        return est

    async def _reserve(self, call: Call, route: Route, payload: dict[str, Any], est: Estimate) -> None:
        """Reserve the worst-case cost on every budget level, or refuse the request (429)."""
        assert call.principal is not None
        budget = self.runtime.budgets.get(call.principal.agent_id)
        if budget is None or not budget.limited:
            return
        plan = self.guard.plan(budget)
        ask = budget_ask(budget, route, call.adapter, payload, est, self.guard.settings.clamp_min_tokens)
        decision, reservation = await self.guard.reserve(plan, call.request_id, ask.amount, ask.clamp)
        amount = ask.amount
        if reservation is not None and reservation.tokens >= 0:
            # The store shrank the request to what is left, in the same round trip.
            call.max_output = apply_clamp(call.adapter, payload, ask, reservation.tokens)
            call.detail["clamped_max_tokens"] = reservation.tokens
            amount = reservation.amount
        if not decision.allowed:
            call.surface = "budget"
            raise _budget_refusal(decision, amount, self.guard.clock())
        call.reservation = reservation
        if decision.unchecked:
            call.detail["budget_unchecked"] = True
        elif decision.headroom is not None:
            call.budget_remaining = to_usd(decision.headroom)

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
        self._account(call, Outcome(200, tokens_in, tokens_out))
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
        self._account(call, Outcome(status, reason="upstream_status"))
        return web.Response(status=status, body=body, content_type="application/json", headers=call.headers())


def _model_refusal(decision: Decision, model: str, route: Route | None, adapter: Adapter) -> ApiError:
    status = status_for(decision)
    if decision.reason == "model_not_found":
        return ApiError(status, f"the model '{model}' does not exist", code=decision.reason, param="model")
    if decision.reason == "model_not_allowed":
        message = f"this agent may not use the model '{model}'"
        return ApiError(status, message, "permission_error", decision.reason, "model")
    assert route is not None
    if decision.reason == "wrong_model_kind":
        message = f"'{model}' is an {route.model.kind} model and cannot serve {adapter.endpoint.value}"
    else:
        kind = route.provider.kind
        message = (
            f"'{model}' is served by an {kind} provider, which does not speak {adapter.path}; "
            f"use {'/v1/messages' if kind == 'anthropic' else '/v1/responses'}"
        )
    return ApiError(status, message, code=decision.reason, param="model")


def _budget_refusal(decision: BudgetDecision, amount: int, now: float) -> ApiError:
    status = status_for(decision)
    counter = decision.counter
    if counter is None:
        message = "the budget store is unavailable and this appliance is set to fail closed"
        return ApiError(status, message, "budget_unavailable", "budget_store_unavailable")
    retry = decision.retry_after(now)
    return ApiError(
        status,
        f"budget exceeded: the {counter.level} {counter.period} limit of ${to_usd(counter.limit):.2f} is reached "
        f"(this request could cost up to ${to_usd(amount):.6f})",
        "budget_exceeded",
        decision.reason,
        headers={"Retry-After": str(retry)} if retry else None,
    )


def _media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip()
