"""Admission of one LLM request: which route serves it, may this principal use it, and what may
it cost at most. Pure: a principal, a payload and one config version in, values out; no socket,
no await. The door (`gateway.llm`) does the I/O around these steps and maps each refusal's
reason to a status code.

The door's order: authenticate → `admit` → mask PII → `estimate` → `budget_ask` → reserve. The
estimate comes after masking, so it counts the prompt that is actually sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tiktoken

from budget import AgentBudget, Clamp, Price, clamp_for, worst_case
from config import ALLOWED, Decision, Model, Provider
from gateway.auth import Principal, model_decision
from gateway.protocols import Adapter
from pii import PiiBlocked, PiiFailure

if TYPE_CHECKING:
    from gateway.upstream import Upstream

PII_BLOCKED = Decision(False, "pii_blocked")  # a type the policy blocks
PII_DETECTION_FAILED = Decision(False, "pii_detection_failed")  # fail closed: never sent unmasked
PII_UNCHECKED = Decision(True, "pii_unchecked")  # the policy fails open: sent as it is, audited so
WRONG_MODEL_KIND = Decision(False, "wrong_model_kind")  # an embedding model asked to chat, or the reverse
WRONG_PROTOCOL = Decision(False, "wrong_protocol")  # e.g. an Anthropic provider behind /v1/chat/completions


@dataclass(frozen=True, slots=True)
class Route:
    model: Model
    provider: Provider
    upstream: Upstream
    price: Price
    enc: tiktoken.Encoding


def admit(
    routes: Mapping[str, Route], principal: Principal, adapter: Adapter, model: str
) -> tuple[Decision, Route | None]:
    """May this principal send this model to this endpoint? The route comes back when there is one."""
    route = routes.get(model)
    decision = model_decision(principal, model, route is not None)
    if route is None or not decision.allowed:
        return decision, route
    if route.model.kind != adapter.endpoint.model_kind:
        return WRONG_MODEL_KIND, route
    if route.provider.kind not in adapter.provider_kinds:
        return WRONG_PROTOCOL, route
    return ALLOWED, route


def pii_decision(error: PiiBlocked | PiiFailure, fail_closed: bool) -> Decision:
    """What masking that did not go through means for the request."""
    if isinstance(error, PiiBlocked):
        return PII_BLOCKED
    return PII_DETECTION_FAILED if fail_closed else PII_UNCHECKED


# Per-request values are plain slotted dataclasses: a frozen one costs three times as much to make
# (~1 us against ~0.3 us), on every request.
@dataclass(slots=True)
class Estimate:
    prompt_tokens: int  # counted here (tiktoken); the provider's usage replaces it when it reports one
    max_output: int  # worst-case output tokens over all choices
    stream: bool


def estimate(adapter: Adapter, route: Route, payload: dict[str, Any], detail: dict[str, Any]) -> Estimate:
    """Count the (masked) prompt and the worst-case output, then adapt the payload for the provider.

    The adapter may refuse what cannot be served safely (an ApiError) and notes what it changed in
    `detail` (e.g. `usage_injected`).
    """
    result = Estimate(
        adapter.count_prompt(route.enc, payload),
        adapter.output_cap(payload, route.model.max_output_tokens),
        bool(payload.get("stream")),
    )
    adapter.prepare(payload, route.provider, detail)
    if route.model.upstream_name:
        payload["model"] = route.model.upstream_name
    return result


@dataclass(slots=True)
class BudgetAsk:
    amount: int  # nano-USD: the worst case
    clamp: Clamp | None  # how the store may shrink the request instead of refusing it
    choices: int  # a clamp's tokens are per choice


def budget_ask(
    budget: AgentBudget, route: Route, adapter: Adapter, payload: dict[str, Any], est: Estimate, clamp_min_tokens: int
) -> BudgetAsk:
    """What to reserve for a request, and whether the budget may shrink its output to fit."""
    n = adapter.choices(payload)
    clamp = None
    if budget.clamp and est.max_output:
        clamp = clamp_for(route.price, est.prompt_tokens, n, clamp_min_tokens)
    return BudgetAsk(worst_case(route.price, est.prompt_tokens, est.max_output), clamp, n)


def apply_clamp(adapter: Adapter, payload: dict[str, Any], ask: BudgetAsk, tokens: int) -> int:
    """Lower the request's output cap to the `tokens` per choice the store found room for; the new worst case."""
    payload[adapter.output_key(payload)] = tokens
    return tokens * ask.choices
