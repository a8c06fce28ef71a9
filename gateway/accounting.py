"""Accounting of one LLM request, however it ends: metrics, the budget settle and one audit event.

`Call` collects what the request has done so far; `account` closes it with an `Outcome`, exactly
once, whichever of the door's paths (refusal, upstream error, unary reply, stream cut or ended)
gets there first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import audit
from budget import BudgetGuard, Reservation, to_nano
from gateway import metrics
from gateway.admission import Route
from gateway.auth import Principal
from gateway.payloads import Endpoint
from gateway.protocols import ADAPTERS, Adapter
from pii import Vault

# Client went away before the response was complete (nginx's convention; not sent to anyone).
CLIENT_CLOSED = 499


@dataclass(slots=True, eq=False)
class Call:
    """What one request has done so far, for accounting whatever way it ends."""

    request_id: str
    t0: float
    endpoint: Endpoint
    action: str = ""  # the audit action and route label when not the endpoint's (messages.count_tokens)
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
        if self.adapter.anthropic_errors:
            headers["request-id"] = self.request_id  # where Anthropic's SDKs read it
        if self.budget_remaining is not None:
            headers["x-tollgate-budget-remaining"] = f"{self.budget_remaining:.6f}"
        return headers


@dataclass(slots=True)  # not frozen: made on every request, and a frozen dataclass costs ~3x to make
class Outcome:
    """How a request ended: the status the client saw (or CLIENT_CLOSED) and the tokens it used."""

    status: int
    tokens_in: int = 0
    tokens_out: int = 0
    reason: str | None = None  # why it did not end well; into the audit row's detail


def result_of(status: int) -> audit.Result:
    return "allowed" if status < 400 else ("error" if status >= 500 or status == CLIENT_CLOSED else "denied")


def account(call: Call, outcome: Outcome, guard: BudgetGuard) -> None:
    """Metrics, settle the reservation to the real cost, one audit event; a second call does nothing."""
    if call.finished:
        return
    call.finished = True
    elapsed = time.perf_counter() - call.t0
    model = call.model or "-"
    route = call.action or call.endpoint.value.lstrip("/")
    tokens_in, tokens_out = outcome.tokens_in, outcome.tokens_out
    metrics.LLM_REQUESTS.labels(route, model, str(outcome.status)).inc()
    cost = 0.0
    if call.route is not None:
        metrics.LLM_DURATION.labels(route, model).observe(elapsed)
        if tokens_in or tokens_out:
            cost = call.route.price.cost_usd(tokens_in, tokens_out)
            metrics.LLM_TOKENS.labels(model, "in").inc(tokens_in)
            metrics.LLM_TOKENS.labels(model, "out").inc(tokens_out)
            metrics.LLM_COST.labels(model).inc(cost)
    if call.reservation is not None:
        guard.settle(call.reservation, to_nano(cost) if cost else 0)
        call.reservation = None
    p = call.principal
    if p is None:
        return  # authentication failures were audited where they happened
    if outcome.reason:
        call.detail["reason"] = outcome.reason
    call.detail["prompt_estimate"] = call.prompt_estimate
    if call.vault is not None and call.vault.unknown:
        call.detail["pii_unknown_placeholders"] = call.vault.unknown
    audit.emit(
        audit.AuditEvent(
            surface=call.surface,
            action=route,
            result=result_of(outcome.status),
            request_id=call.request_id,
            org_id=p.org_id,
            team_id=p.team_id,
            actor_type="agent",
            actor_id=p.agent_id,
            resource=model,
            status=outcome.status,
            latency_ms=round(elapsed * 1000, 3),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=cost,
            pii_counts=call.pii_counts,
            detail=call.detail,
        )
    )
