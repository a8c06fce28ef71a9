"""The Responses API and the Messages API end to end: the official `openai` and `anthropic` SDKs
against a real tollgate, in front of the recording upstream (and the built-in mock)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from config import hash_token
from tests.conftest import ALICE, ANTHROPIC_KEY, CAROL, PROVIDER_KEY, Gateway, base_config
from tests.upstream import Upstream, free_port, read_drips_then_hang_up, wait_until

ERIN = "tg-test-erin-0123456789abcdefghijklmnopq"  # acme/research, a budget that fits no request
FRANK = "tg-test-frank-0123456789abcdefghijklmnop"  # acme/research, one dollar, for settling
GINA = "tg-test-gina-0123456789abcdefghijklmnopq"  # acme/research, a tenth of a cent, output clamped to fit

# Planted values (all synthetic): none may reach the provider.
EMAIL = "zoë.keller@example-corp.io"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
PLANTED = [EMAIL, PHONE, CARD, IBAN]
WEATHER_FN = {
    "type": "function",
    "name": "send_mail",
    "description": "Send a mail",
    "parameters": {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]},
}
WEATHER_TOOL = {
    "name": "send_mail",
    "description": "Send a mail",
    "input_schema": {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]},
}


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = base_config(upstream.base_url, free_port(), free_port())
    research = config["orgs"][0]["teams"][0]
    research["agents"] += [
        {"id": "erin", "tokens": [hash_token(ERIN)], "budget": {"total_usd": 0.001}},
        {"id": "frank", "tokens": [hash_token(FRANK)], "budget": {"total_usd": 1.0}},
        {"id": "gina", "tokens": [hash_token(GINA)], "budget": {"total_usd": 0.001, "clamp_max_tokens": True}},
    ]
    config["orgs"][1]["pii"] = {"actions": {"CREDIT_CARD": "block"}}  # carol may not send card numbers
    gateway = Gateway(tmp_path_factory.mktemp("protocols"), config).start()
    yield gateway
    gateway.stop()


def oai(gw: Gateway, token: str = ALICE) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=token, max_retries=0)


def claude(gw: Gateway, token: str = ALICE, **kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.base_url.removesuffix("/v1"), api_key=token, max_retries=0, **kwargs)


def pii_text() -> str:
    return f"Mail {EMAIL} or call {PHONE}; IBAN {IBAN}."


def assert_clean(sent: Any) -> None:
    text = json.dumps(sent, ensure_ascii=False)
    for value in PLANTED:
        assert value not in text, value


def request_id_of(response: Any) -> str:
    return str(response.headers["x-request-id"])


# -- the Responses API ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["up-gpt", "mock-gpt"])
def test_responses_create(gw: Gateway, upstream: Upstream, model: str):
    raw = oai(gw).responses.with_raw_response.create(model=model, input="Say hi", instructions="Be brief.")
    reply = raw.parse()
    assert reply.output_text == "Mock reply to: Say hi"
    assert reply.usage is not None and reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert raw.headers["x-request-id"].startswith("req_") and float(raw.headers["x-tollgate-overhead-ms"]) >= 0
    event = gw.audit_for(raw.headers["x-request-id"])
    assert event["action"] == "responses" and event["status"] == 200
    assert (event["tokens_in"], event["tokens_out"]) == (reply.usage.input_tokens, reply.usage.output_tokens)
    if model == "up-gpt":
        sent = upstream.recorder.last()
        assert sent.path == "/responses" and sent.body["store"] is False  # no state kept upstream by default
        assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEY}" and ALICE not in json.dumps(sent.headers)


@pytest.mark.parametrize("model", ["up-gpt", "charwise", "mock-gpt"])
def test_responses_stream_relays_typed_events_and_restores_values(gw: Gateway, upstream: Upstream, model: str):
    with oai(gw).responses.stream(model=model, input=pii_text(), instructions=f"Operator: {EMAIL}") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == f"Mock reply to: {pii_text()}" == final.output_text
    assert final.usage is not None and final.usage.output_tokens > 0
    if model != "mock-gpt":
        assert_clean(upstream.recorder.last().body)
        assert len(deltas) > 20 or model == "up-gpt"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["up-gpt", "charwise", "goenc", "hexenc"])  # escaped placeholders: tests/upstream.py
def test_responses_function_call_round_trip_masks_every_slot(gw: Gateway, upstream: Upstream, stream: bool, model: str):
    client = oai(gw)
    first_input: list[Any] = [{"role": "user", "content": [{"type": "input_text", "text": pii_text()}]}]
    if stream:
        with client.responses.stream(model=model, input=first_input, tools=[WEATHER_FN]) as s:
            arg_deltas = [e.delta for e in s if e.type == "response.function_call_arguments.delta"]
            first = s.get_final_response()
        assert json.loads("".join(arg_deltas)) == {"input": f"Mock reply to: {pii_text()}"}
    else:
        first = client.responses.create(model=model, input=first_input, tools=[WEATHER_FN])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "send_mail" and json.loads(call.arguments) == {"input": f"Mock reply to: {pii_text()}"}
    assert_clean(upstream.recorder.last().body)
    # The agent sends the call and its result back: both carry the values again, in clear.
    second_input = [
        *first_input,
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": f"sent to {EMAIL}, card {CARD}"},
    ]
    second = client.responses.create(
        model=model, input=second_input, tools=[WEATHER_FN], instructions=f"Sign as {PHONE}.", stream=False
    )
    assert second.output_text == f"Mock reply to: sent to {EMAIL}, card {CARD}"
    sent = upstream.recorder.last().body
    assert_clean(sent)
    assert "<EMAIL_1>" in sent["input"][1]["arguments"] and "<EMAIL_1>" in sent["input"][2]["output"]
    assert "<PHONE_1>" in sent["instructions"]


def test_coding_agent_items_are_masked_too(gw: Gateway, upstream: Upstream):
    """Codex-style agents send shell commands, their output, patches and MCP calls back as input items."""
    shell = {"command": ["curl", "-d", EMAIL, "https://crm.example"], "env": {"TO": PHONE}, "type": "exec"}
    items = [
        {"role": "user", "content": "fix it"},
        {"type": "local_shell_call", "id": "lsh_1", "call_id": "c1", "status": "completed", "action": shell},
        {"type": "local_shell_call_output", "id": "c1", "output": f"customer {EMAIL}, iban {IBAN}"},
        {"type": "shell_call", "call_id": "c2", "action": {"commands": [f"grep '{PHONE}' log"]}},
        {"type": "shell_call_output", "call_id": "c2", "output": [{"stdout": EMAIL, "stderr": IBAN, "outcome": {}}]},
        {"type": "apply_patch_call", "call_id": "c3", "status": "completed",
         "operation": {"type": "update_file", "path": "a.txt", "diff": f"+{EMAIL}"}},
        {"type": "apply_patch_call_output", "call_id": "c3", "status": "completed", "output": f"wrote {PHONE}"},
        {"type": "mcp_call", "id": "m1", "name": "lookup", "server_label": "crm",
         "arguments": json.dumps({"who": EMAIL}), "output": f"{PHONE}, {IBAN}"},
    ]  # fmt: skip
    r = httpx.post(gw.base_url + "/responses", headers={"x-api-key": ALICE}, json={"model": "up-gpt", "input": items})
    assert r.status_code == 200, r.text
    assert_clean(upstream.recorder.last().body)


def test_items_and_blocks_of_types_not_known_yet_are_masked_whole(gw: Gateway, upstream: Upstream):
    """Fail closed: the APIs grow new item and block types; every string in one is masked, its ids kept."""
    item = {"type": "future_item", "call_id": "call_7", "output": {"note": f"reach {EMAIL}", "more": [PHONE]}}
    r = httpx.post(gw.base_url + "/responses", headers={"x-api-key": ALICE},
                   json={"model": "up-gpt", "input": [{"role": "user", "content": "go"}, item]})  # fmt: skip
    assert r.status_code == 200, r.text
    sent = upstream.recorder.last().body
    assert_clean(sent)
    assert sent["input"][1]["call_id"] == "call_7"
    block = {"type": "future_block", "id": "blk_1", "text": f"IBAN {IBAN}", "extra": {"who": EMAIL}}
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    claude(gw).messages.create(
        model="claude-up",
        max_tokens=50,
        messages=[{"role": "user", "content": [block, image]}],  # type: ignore[list-item]
    )
    sent = upstream.recorder.last().body
    assert_clean(sent)
    assert sent["messages"][0]["content"][0]["id"] == "blk_1" and sent["messages"][0]["content"][1] == image


def test_previous_response_id_is_refused_unless_the_provider_may_keep_state(gw: Gateway, upstream: Upstream):
    with pytest.raises(openai.BadRequestError) as e:
        oai(gw).responses.create(model="up-gpt", input="again", previous_response_id="resp_123")
    assert e.value.status_code == 400 and e.value.code == "state_not_allowed"
    assert "responses_state" in e.value.message
    assert upstream.recorder.requests == []


def test_responses_refusals_are_openai_shaped(gw: Gateway, upstream: Upstream):
    with pytest.raises(openai.RateLimitError) as e:
        oai(gw, ERIN).responses.create(model="up-gpt", input="hello", max_output_tokens=2000)
    assert e.value.body["type"] == "budget_exceeded" and e.value.code == "agent_total"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as e2:
        oai(gw, CAROL).responses.create(model="up-gpt", input=[{"role": "user", "content": f"card {CARD}"}])
    assert e2.value.body["type"] == "pii_policy" and e2.value.code == "pii_blocked"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as e3:
        oai(gw).responses.create(model="claude-up", input="hi")
    assert e3.value.code == "wrong_protocol"
    assert upstream.recorder.requests == []


# -- the Messages API -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-up", "mock-gpt"])
def test_messages_create(gw: Gateway, upstream: Upstream, model: str):
    raw = claude(gw).messages.with_raw_response.create(
        model=model, max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": "Say hi"}]
    )
    reply = raw.parse()
    assert reply.content[0].type == "text" and reply.content[0].text == "Mock reply to: Say hi"
    assert reply.stop_reason == "end_turn" and reply.usage.input_tokens > 0
    event = gw.audit_for(raw.headers["x-request-id"])
    assert event["action"] == "messages" and event["status"] == 200
    assert (event["tokens_in"], event["tokens_out"]) == (reply.usage.input_tokens, reply.usage.output_tokens)
    if model == "claude-up":
        sent = upstream.recorder.last()
        assert sent.path == "/messages" and sent.headers["x-api-key"] == ANTHROPIC_KEY
        assert sent.headers["anthropic-version"] == raw.http_request.headers["anthropic-version"]  # the SDK's
        assert ALICE not in json.dumps(sent.headers) and "authorization" not in sent.headers


def test_messages_accept_a_bearer_token_and_pass_the_version_on(gw: Gateway, upstream: Upstream):
    r = httpx.post(
        gw.base_url + "/messages",
        headers={"Authorization": f"Bearer {ALICE}", "anthropic-version": "2024-01-01", "anthropic-beta": "x-1"},
        json={"model": "claude-up", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200, r.text
    sent = upstream.recorder.last().headers
    assert sent["anthropic-version"] == "2024-01-01" and sent["anthropic-beta"] == "x-1"
    r = httpx.post(
        gw.base_url + "/messages",
        headers={"x-api-key": ALICE},
        json={"model": "claude-up", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200 and upstream.recorder.last().headers["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize("model", ["claude-up", "claude-charwise", "mock-gpt"])
def test_messages_stream_relays_events_and_restores_values(gw: Gateway, upstream: Upstream, model: str):
    with claude(gw).messages.stream(
        model=model, max_tokens=500, system=f"Operator: {EMAIL}", messages=[{"role": "user", "content": pii_text()}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == f"Mock reply to: {pii_text()}" == final.content[0].text  # type: ignore[union-attr]
    assert final.usage.output_tokens > 1 and final.stop_reason == "end_turn"
    if model != "mock-gpt":
        assert_clean(upstream.recorder.last().body)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["claude-up", "claude-charwise", "claude-goenc", "claude-hexenc"])
def test_messages_tool_use_round_trip_masks_every_slot(gw: Gateway, upstream: Upstream, stream: bool, model: str):
    client = claude(gw)
    messages: list[Any] = [{"role": "user", "content": [{"type": "text", "text": pii_text()}]}]
    if stream:
        with client.messages.stream(model=model, max_tokens=500, messages=messages, tools=[WEATHER_TOOL]) as s:
            partial = "".join(e.delta.partial_json for e in s if e.type == "content_block_delta")  # type: ignore[union-attr]
            first = s.get_final_message()
        assert json.loads(partial) == {"input": f"Mock reply to: {pii_text()}"}
    else:
        first = client.messages.create(model=model, max_tokens=500, messages=messages, tools=[WEATHER_TOOL])
    [use] = [b for b in first.content if b.type == "tool_use"]
    assert first.stop_reason == "tool_use" and use.input == {"input": f"Mock reply to: {pii_text()}"}
    assert_clean(upstream.recorder.last().body)
    messages += [
        {"role": "assistant", "content": [{"type": "tool_use", "id": use.id, "name": use.name, "input": use.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": [{"type": "text", "text": f"sent to {EMAIL}, card {CARD}"}]}]},
    ]  # fmt: skip
    second = client.messages.create(
        model=model, max_tokens=500, messages=messages, tools=[WEATHER_TOOL], system=[{"type": "text", "text": PHONE}]
    )
    assert second.content[0].text == f"Mock reply to: sent to {EMAIL}, card {CARD}"  # type: ignore[union-attr]
    sent = upstream.recorder.last().body
    assert_clean(sent)
    assert sent["messages"][1]["content"][0]["input"]["input"].startswith("Mock reply to: Mail <EMAIL_1>")
    assert sent["system"][0]["text"] == "<PHONE_1>"


def test_messages_search_results_documents_and_mcp_blocks_are_masked(gw: Gateway, upstream: Upstream):
    text = [{"type": "text", "text": pii_text()}]
    content = [
        {"type": "search_result", "source": "https://crm.example/1", "title": "Customer", "content": text},
        {"type": "document", "source": {"type": "content", "content": text}},
        {"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "search_result", "source": "kb", "title": "kb", "content": text}]},
    ]  # fmt: skip
    assistant = [{"type": "mcp_tool_use", "id": "m1", "name": "lookup", "server_name": "crm", "input": {"who": EMAIL}}]
    result = [{"type": "mcp_tool_result", "tool_use_id": "m1", "content": text}]
    body = {
        "model": "claude-up", "max_tokens": 10,
        "messages": [{"role": "user", "content": content}, {"role": "assistant", "content": assistant},
                     {"role": "user", "content": result}],
    }  # fmt: skip
    r = httpx.post(gw.base_url + "/messages", headers={"x-api-key": ALICE}, json=body)
    assert r.status_code == 200, r.text
    assert_clean(upstream.recorder.last().body)


def test_messages_refusals_are_anthropic_shaped(gw: Gateway, upstream: Upstream):
    body = {"max_tokens": 2000, "messages": [{"role": "user", "content": f"card {CARD}"}]}
    with pytest.raises(anthropic.RateLimitError) as e:
        claude(gw, ERIN).messages.create(model="claude-up", **body)  # type: ignore[arg-type]
    assert e.value.body == {"type": "error", "error": {"type": "rate_limit_error", "code": "agent_total",
                                                        "message": e.value.body["error"]["message"]}}  # type: ignore[index]  # fmt: skip
    assert "budget exceeded" in e.value.message
    with pytest.raises(anthropic.BadRequestError) as e2:
        claude(gw, CAROL).messages.create(model="claude-up", **body)  # type: ignore[arg-type]
    error = e2.value.body["error"]  # type: ignore[index]
    assert e2.value.body["type"] == "error" and error["type"] == "invalid_request_error"  # type: ignore[index]
    assert error["code"] == "pii_blocked" and CARD not in error["message"]
    with pytest.raises(anthropic.AuthenticationError) as e3:
        claude(gw, "tg-wrong").messages.create(model="claude-up", **body)  # type: ignore[arg-type]
    assert e3.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as e4:
        claude(gw).messages.create(model="up-gpt", **body)  # type: ignore[arg-type]
    assert e4.value.body["error"]["code"] == "wrong_protocol"  # type: ignore[index]
    r = httpx.post(gw.base_url + "/messages", headers={"x-api-key": ALICE}, json={"model": "claude-up"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_required_parameter"
    assert upstream.recorder.requests == []
    r = httpx.get(gw.base_url + "/messages", headers={"x-api-key": ALICE})
    assert r.status_code == 405 and r.json()["type"] == "error"


def test_the_anthropic_sdk_reads_tollgates_request_id(gw: Gateway):
    """Anthropic's SDKs read `request-id` (`message._request_id`, an error's `request_id`)."""
    raw = claude(gw).messages.with_raw_response.create(
        model="mock-gpt", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse()._request_id == raw.headers["x-request-id"]
    with pytest.raises(anthropic.NotFoundError) as e:
        claude(gw).messages.create(model="gpt-nope", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert e.value.request_id == e.value.response.headers["x-request-id"]
    with claude(gw).messages.stream(
        model="mock-gpt", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert stream.request_id == stream.response.headers["x-request-id"]


def test_count_tokens_is_answered_here_for_claude_code(gw: Gateway, upstream: Upstream):
    """Claude Code asks /v1/messages/count_tokens (?beta=true) before turns to size its context."""
    messages = [{"role": "user", "content": pii_text()}]
    raw = claude(gw).messages.with_raw_response.count_tokens(model="claude-up", system="Be brief.", messages=messages)
    counted = raw.parse().input_tokens
    served = claude(gw).messages.create(model="claude-up", max_tokens=5, system="Be brief.", messages=messages)
    assert counted > 0 and abs(counted - served.usage.input_tokens) <= 0.2 * served.usage.input_tokens
    assert len(upstream.recorder.requests) == 1  # counting sent nothing upstream
    event = gw.audit_for(raw.headers["x-request-id"])
    assert (event["action"], event["tokens_in"], event["cost_usd"]) == ("messages.count_tokens", counted, 0)
    beta = httpx.post(gw.base_url.removesuffix("/v1") + "/v1/messages/count_tokens?beta=true",
                      headers={"x-api-key": ALICE}, json={"model": "mock-gpt", "messages": messages})  # fmt: skip
    assert beta.status_code == 200 and beta.json()["input_tokens"] > 0
    with pytest.raises(anthropic.AuthenticationError):
        claude(gw, "tg-wrong").messages.count_tokens(model="claude-up", messages=messages)
    with pytest.raises(anthropic.BadRequestError) as e:
        claude(gw).messages.count_tokens(model="up-gpt", messages=messages)
    assert e.value.body["error"]["code"] == "wrong_protocol"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as e:
        claude(gw).messages.count_tokens(model="claude-up", messages=[])
    assert e.value.body["error"]["code"] == "invalid_value"  # type: ignore[index]
    r = httpx.get(gw.base_url + "/messages/count_tokens", headers={"x-api-key": ALICE})
    assert r.status_code == 405 and r.json()["type"] == "error"


def test_messages_upstream_errors_keep_their_status_in_anthropic_shape(gw: Gateway):
    for model, status in (("claude-error-429", 429), ("claude-html-502", 502)):
        r = httpx.post(
            gw.base_url + "/messages",
            headers={"x-api-key": ALICE},
            json={"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert r.status_code == status and r.json()["type"] == "error" and r.json()["error"]["message"]


def test_a_provider_that_answers_late_is_a_504_in_anthropic_shape(gw: Gateway):
    with pytest.raises(anthropic.APIStatusError) as e:
        claude(gw).messages.create(model="claude-slow-3000", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 504 and e.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]


@pytest.mark.parametrize(("route", "key"), [("responses", "max_output_tokens"), ("messages", "max_tokens")])
def test_a_clamping_budget_lowers_each_protocols_own_output_cap(gw: Gateway, upstream: Upstream, route: str, key: str):
    body: dict[str, Any] = {"model": "up-gpt" if route == "responses" else "claude-up", key: 4000}
    body.update({"input": "hi"} if route == "responses" else {"messages": [{"role": "user", "content": "hi"}]})
    r = httpx.post(f"{gw.base_url}/{route}", json=body, headers={"x-api-key": GINA})
    assert r.status_code == 200, r.text
    clamped = upstream.recorder.last().body[key]
    assert 16 <= clamped < 500  # what $0.001 buys at $2 per 1M output tokens, less the prompt
    assert gw.audit_for(r.headers["x-request-id"])["detail"]["clamped_max_tokens"] == clamped


# -- accounting -------------------------------------------------------------------------------------


def budget(gw: Gateway) -> dict[str, float]:
    r = httpx.get(gw.admin_url + "/admin/budgets", params={"org": "acme"},
                  headers={"Authorization": "Bearer tg-admin-test-token"})  # fmt: skip
    [row] = [c for c in r.json()["counters"] if c["id"] == "frank"]
    return row  # type: ignore[no-any-return]


@pytest.mark.parametrize("route", ["responses", "messages"])
@pytest.mark.parametrize("stream", [False, True])
def test_usage_and_cost_settle_exactly_once(gw: Gateway, route: str, stream: bool):
    before = budget(gw)["spent_usd"]
    if route == "responses":
        body: dict[str, Any] = {"model": "up-gpt", "input": "count me", "max_output_tokens": 300, "stream": stream}
    else:
        body = {"model": "claude-up", "max_tokens": 300, "messages": [{"role": "user", "content": "count me"}],
                "stream": stream}  # fmt: skip
    with httpx.stream("POST", f"{gw.base_url}/{route}", json=body, headers={"x-api-key": FRANK}) as r:
        assert r.status_code == 200
        request_id = r.headers["x-request-id"]
        r.read()
    event = gw.audit_for(request_id)
    cost = (event["tokens_in"] * 1.0 + event["tokens_out"] * 2.0) / 1e6
    assert event["cost_usd"] == pytest.approx(cost) and event["tokens_out"] > 0
    assert wait_until(lambda: budget(gw)["reserved_usd"] == 0)
    assert budget(gw)["spent_usd"] - before == pytest.approx(cost, abs=1e-9)
    assert [e["request_id"] for e in gw.audit_events()].count(request_id) == 1


@pytest.mark.parametrize(("route", "model"), [("responses", "drip"), ("messages", "claude-drip")])
def test_client_disconnect_cancels_upstream_and_charges_what_streamed(
    gw: Gateway, upstream: Upstream, route: str, model: str
):
    if route == "responses":
        payload: dict[str, Any] = {"model": model, "stream": True, "input": "x"}
    else:
        payload = {"model": model, "stream": True, "max_tokens": 4000, "messages": [{"role": "user", "content": "x"}]}
    received = read_drips_then_hang_up(gw.base_url, "/" + route, payload, ALICE)
    assert b"event: " in received
    request_id = received.split(b"x-request-id: ")[1].split(b"\r\n")[0].decode()
    assert wait_until(lambda: request_id in upstream.recorder.disconnects, timeout=3)
    assert request_id not in upstream.recorder.finished_streams
    event = gw.audit_for(request_id)
    assert event["status"] == 499 and event["result"] == "error" and event["action"] == route
    assert event["tokens_out"] > 0 and event["tokens_in"] > 0 and event["cost_usd"] > 0


@pytest.mark.parametrize(("route", "model"), [("responses", "cut"), ("messages", "claude-cut")])
def test_a_stream_the_provider_cuts_ends_with_the_protocols_error_event(gw: Gateway, route: str, model: str):
    if route == "responses":
        payload: dict[str, Any] = {"model": model, "stream": True, "input": "x"}
    else:
        payload = {"model": model, "stream": True, "max_tokens": 50, "messages": [{"role": "user", "content": "x"}]}
    r = httpx.post(f"{gw.base_url}/{route}", json=payload, headers={"x-api-key": ALICE})
    events = [e for e in r.text.split("\n\n") if e]
    assert events[-1].startswith("event: error\ndata: ")
    error = json.loads(events[-1].split("data: ", 1)[1])
    assert error["type"] == "error"
    if route == "messages":
        assert error["error"]["type"] == "api_error"
    else:
        assert error["code"] == "upstream_stream_error"
    assert gw.audit_for(r.headers["x-request-id"])["detail"]["reason"] == "stream_error"


def test_metrics_are_labelled_by_route(gw: Gateway):
    oai(gw).responses.create(model="mock-gpt", input="m")
    claude(gw).messages.create(model="mock-gpt", max_tokens=5, messages=[{"role": "user", "content": "m"}])
    text = httpx.get(gw.admin_url + "/metrics").text
    assert 'tollgate_llm_requests_total{model="mock-gpt",route="responses",status="200"}' in text
    assert 'tollgate_llm_requests_total{model="mock-gpt",route="messages",status="200"}' in text
