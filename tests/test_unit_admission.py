"""gateway.admission and the LLM door's reason → status table: pure steps, no sockets.

The routes come from a real config through the door's own `Runtime` (a client session that is
never used: admission opens no connection)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yaml

from budget import (
    EXCEEDED_REASONS,
    LEVELS,
    BudgetDecision,
    BudgetGuard,
    MemoryStore,
    agent_budgets,
    make_plan,
    worst_case,
)
from config import ALLOWED, Decision, hash_token, parse_config
from config.schema import BudgetStore
from gateway import admission
from gateway.admission import BudgetAsk, Route, admit, apply_clamp, budget_ask, estimate, pii_decision
from gateway.auth import INVALID_TOKEN, MISSING_TOKEN, MODEL_NOT_ALLOWED, MODEL_NOT_FOUND, Directory, Principal
from gateway.llm import STATUS, Runtime, status_for
from gateway.payloads import Endpoint
from gateway.protocols import ADAPTERS
from gateway.tokenizer import count_request
from pii import PiiBlocked, PiiFailure

ALICE = "tg-alice-0123456789abcdefghijklmnop"
BOB = "tg-bob-0123456789abcdefghijklmnopqrs"
CHAT, MESSAGES, EMBEDDINGS = ADAPTERS[Endpoint.CHAT], ADAPTERS[Endpoint.MESSAGES], ADAPTERS[Endpoint.EMBEDDINGS]
HELLO = [{"role": "user", "content": "hello there, how are you today?"}]

CONFIG = {
    "providers": [
        {
            "name": "mock",
            "kind": "mock",
            "models": [
                {"name": "gpt", "input_usd_per_1m": 1000.0, "output_usd_per_1m": 1000.0, "max_output_tokens": 500},
                {"name": "alias", "upstream_name": "gpt-real"},
                {"name": "embed", "kind": "embedding"},
            ],
        },
        {"name": "anth", "kind": "anthropic", "base_url": "http://127.0.0.1:9", "models": [{"name": "claude"}]},
    ],
    "orgs": [
        {
            "id": "acme",
            "budget": {"monthly_usd": 10.0},
            "teams": [
                {
                    "id": "research",
                    "agents": [
                        {"id": "alice", "tokens": [hash_token(ALICE)], "budget": {"total_usd": 1.0}},
                        {
                            "id": "bob",
                            "models": ["gpt"],
                            "tokens": [hash_token(BOB)],
                            "budget": {"daily_usd": 1.0, "clamp_max_tokens": True},
                        },
                    ],
                }
            ],
        }
    ],
}


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    async with aiohttp.ClientSession() as session:
        yield Runtime(parse_config(yaml.safe_dump(CONFIG)), session)


def principal(directory: Directory, token: str) -> Principal:
    found = directory.authenticate(token)
    assert found is not None
    return found


# admit: which route, and may this principal use it on this endpoint


async def test_admit_routes_an_allowed_model(runtime: Runtime) -> None:
    decision, route = admit(runtime.routes, principal(runtime.directory, ALICE), CHAT, "gpt")
    assert decision == ALLOWED and route is not None and route.model.name == "gpt"


async def test_admit_refuses_with_a_reason_on_every_path(runtime: Runtime) -> None:
    alice, bob = principal(runtime.directory, ALICE), principal(runtime.directory, BOB)
    assert admit(runtime.routes, alice, CHAT, "gpt-9") == (MODEL_NOT_FOUND, None)
    assert admit(runtime.routes, bob, CHAT, "gpt-9") == (MODEL_NOT_FOUND, None)  # listed or not: unknown
    assert admit(runtime.routes, bob, CHAT, "alias")[0] == MODEL_NOT_ALLOWED
    assert admit(runtime.routes, alice, CHAT, "embed")[0] == admission.WRONG_MODEL_KIND
    assert admit(runtime.routes, alice, EMBEDDINGS, "gpt")[0] == admission.WRONG_MODEL_KIND
    assert admit(runtime.routes, alice, CHAT, "claude")[0] == admission.WRONG_PROTOCOL
    assert admit(runtime.routes, alice, MESSAGES, "claude")[0] == ALLOWED


# estimate: after masking, before the reservation


def route_of(runtime: Runtime, model: str) -> Route:
    return runtime.routes[model]


async def test_estimate_counts_the_prompt_caps_the_output_and_adapts_the_payload(runtime: Runtime) -> None:
    route = route_of(runtime, "gpt")
    payload: dict[str, Any] = {"model": "gpt", "messages": HELLO, "max_tokens": 40, "n": 2, "stream": True}
    detail: dict[str, Any] = {}
    est = estimate(CHAT, route, payload, detail)
    assert est.prompt_tokens == count_request(route.enc, "/chat/completions", {"messages": HELLO})
    assert (est.max_output, est.stream) == (80, True)  # two choices of 40
    # A stream is charged from its usage event: asked for upstream, stripped on the way back.
    assert payload["stream_options"] == {"include_usage": True} and detail == {"usage_injected": True}


async def test_estimate_takes_the_models_cap_and_sends_its_upstream_name(runtime: Runtime) -> None:
    payload: dict[str, Any] = {"model": "gpt", "messages": HELLO}
    assert estimate(CHAT, route_of(runtime, "gpt"), payload, {}).max_output == 500
    aliased: dict[str, Any] = {"model": "alias", "messages": HELLO}
    est = estimate(CHAT, route_of(runtime, "alias"), aliased, {})
    assert aliased["model"] == "gpt-real" and not est.stream


# budget_ask and apply_clamp


async def test_budget_ask_is_the_worst_case_and_clamps_only_when_the_budget_says_so(runtime: Runtime) -> None:
    route = route_of(runtime, "gpt")
    payload: dict[str, Any] = {"model": "gpt", "messages": HELLO, "max_tokens": 40}
    est = estimate(CHAT, route, payload, {})
    plain = budget_ask(runtime.budgets["alice"], route, CHAT, payload, est, clamp_min_tokens=16)
    assert plain == BudgetAsk(worst_case(route.price, est.prompt_tokens, 40), None, 1)
    clamped = budget_ask(runtime.budgets["bob"], route, CHAT, payload, est, clamp_min_tokens=16)
    assert clamped.amount == plain.amount and clamped.clamp is not None and clamped.clamp.min_tokens == 16


async def test_a_clamp_the_store_applies_lowers_the_payloads_own_cap(runtime: Runtime) -> None:
    """The ask, a real reserve that finds room for fewer tokens, and the payload shrunk to match."""
    route = route_of(runtime, "gpt")
    payload: dict[str, Any] = {"model": "gpt", "messages": HELLO, "max_completion_tokens": 400, "n": 2}
    est = estimate(CHAT, route, payload, {})
    budget = runtime.budgets["bob"]
    ask = budget_ask(budget, route, CHAT, payload, est, clamp_min_tokens=16)
    store = MemoryStore(dedup_s=30)
    plan = make_plan(budget.org_id, list(budget.scopes), 0.0)
    room = worst_case(route.price, est.prompt_tokens, 100)  # a dollar's worth would fit all 800 tokens
    assert (await store.reserve(plan, "spend", plan.counters[-1].limit - room, 0.0, 60)).ok
    result = await store.reserve(plan, "r1", ask.amount, 0.0, 60, ask.clamp)
    assert result.ok and 16 <= result.tokens <= 50  # per choice: two choices share ~100 tokens' worth
    assert apply_clamp(CHAT, payload, ask, result.tokens) == result.tokens * 2
    assert payload["max_completion_tokens"] == result.tokens and "max_tokens" not in payload


# PII


def test_pii_decision_blocks_and_fails_closed_unless_the_policy_fails_open() -> None:
    assert pii_decision(PiiBlocked({"EMAIL"}), fail_closed=False) == Decision(False, "pii_blocked")
    assert pii_decision(PiiFailure("timeout"), fail_closed=True) == Decision(False, "pii_detection_failed")
    assert pii_decision(PiiFailure("timeout"), fail_closed=False) == Decision(True, "pii_unchecked")


# The door's table: every refusal reason of every check has its status


@pytest.mark.parametrize(
    ("decision", "status"),
    [
        (MISSING_TOKEN, 401),
        (INVALID_TOKEN, 401),
        (MODEL_NOT_ALLOWED, 403),
        (MODEL_NOT_FOUND, 404),
        (admission.WRONG_MODEL_KIND, 400),
        (admission.WRONG_PROTOCOL, 400),
        (admission.PII_BLOCKED, 400),
        (admission.PII_DETECTION_FAILED, 400),
        (BudgetDecision(False, "store_unavailable"), 503),
        (BudgetDecision(False, "team_daily"), 429),
        (Decision(False, "something_new"), 403),  # a reason the table does not know: forbidden
    ],
)
def test_status_for_each_refusal(decision: Decision, status: int) -> None:
    assert status_for(decision) == status


def test_every_budget_counter_refuses_with_429() -> None:
    names = {f"{level}_{period}" for level in LEVELS for period in ("daily", "monthly", "total")}
    assert names == EXCEEDED_REASONS and all(STATUS[name] == 429 for name in names)


async def test_the_budget_refusal_reason_is_the_counter_that_would_go_over(runtime: Runtime) -> None:
    """What the guard's decision says is what the table maps: a real over-budget reserve."""
    guard = BudgetGuard(MemoryStore(30), BudgetStore(), clock=lambda: 0.0)
    plan = guard.plan(agent_budgets(parse_config(yaml.safe_dump(CONFIG)))["alice"])
    decision, reservation = await guard.reserve(plan, "r1", plan.counters[-1].limit + 1)
    assert reservation is None and decision.reason == "agent_total" and status_for(decision) == 429
    await guard.close()
