"""The official OpenAI client against a running tollgate, with a recording upstream behind it."""

from __future__ import annotations

import base64
import json
import struct

import httpx
import openai
import pytest

from tests.conftest import ALICE, BOB, PROVIDER_KEY, Gateway
from tests.upstream import Upstream


def client(gw: Gateway, token: str = ALICE) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=token, max_retries=0, timeout=10)


def test_chat_non_stream_reaches_provider_with_its_key_not_the_agent_token(gateway: Gateway, upstream: Upstream):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="up-gpt", messages=[{"role": "user", "content": "What is 2+2?"}]
    )
    reply = raw.parse()
    assert reply.choices[0].message.content == "Mock reply to: What is 2+2?"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert raw.headers["x-request-id"].startswith("req_")
    assert float(raw.headers["x-tollgate-overhead-ms"]) >= 0

    seen = upstream.recorder.last()
    assert seen.path == "/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert ALICE not in json.dumps(seen.headers) and ALICE not in json.dumps(seen.body)
    assert seen.headers["x-request-id"] == raw.headers["x-request-id"]

    event = gateway.audit_for(raw.headers["x-request-id"])
    assert (event["org_id"], event["team_id"], event["actor_id"]) == ("acme", "research", "alice")
    assert event["result"] == "allowed" and event["status"] == 200
    assert event["tokens_in"] == reply.usage.prompt_tokens and event["tokens_out"] == reply.usage.completion_tokens
    expected_cost = (reply.usage.prompt_tokens * 1.0 + reply.usage.completion_tokens * 2.0) / 1e6
    assert event["cost_usd"] == pytest.approx(expected_cost)


def test_stream_relays_chunks_and_hides_the_usage_chunk_it_added(gateway: Gateway, upstream: Upstream):
    stream = client(gateway).chat.completions.create(
        model="up-gpt", messages=[{"role": "user", "content": "stream me"}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Mock reply to: stream me"
    assert all(c.choices for c in chunks), "the usage chunk tollgate asked for must not reach this client"
    assert all(getattr(c, "usage", None) is None for c in chunks)
    # Upstream was asked for usage so the stream can be charged.
    assert upstream.recorder.last().body["stream_options"] == {"include_usage": True}


def test_stream_keeps_the_usage_chunk_when_the_client_asked(gateway: Gateway):
    with client(gateway).chat.completions.with_streaming_response.create(
        model="up-gpt",
        messages=[{"role": "user", "content": "count me"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as raw:
        request_id = raw.headers["x-request-id"]
        chunks = list(raw.parse())
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1 and usage[0].completion_tokens > 0
    event = gateway.audit_for(request_id)
    assert event["tokens_out"] == usage[0].completion_tokens
    assert event["tokens_in"] == usage[0].prompt_tokens


def test_stream_without_provider_usage_is_counted_with_tiktoken(gateway: Gateway):
    with client(gateway).chat.completions.with_streaming_response.create(
        model="nousage", messages=[{"role": "user", "content": "no usage here"}], stream=True
    ) as raw:
        request_id = raw.headers["x-request-id"]
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    event = gateway.audit_for(request_id)
    assert text == "Mock reply to: no usage here"
    assert event["tokens_out"] > 0 and event["tokens_in"] == event["detail"]["prompt_estimate"] > 0


@pytest.mark.parametrize("stream", [False, True])
def test_tools_round_trip(gateway: Gateway, upstream: Upstream, stream: bool):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {"type": "object", "properties": {"input": {"type": "string"}}},
            },
        }
    ]
    messages = [
        {"role": "user", "content": "find it"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "result text"},
        {"role": "user", "content": "and again"},
    ]
    c = client(gateway)
    if stream:
        args = ""
        name = None
        for chunk in c.chat.completions.create(model="up-gpt", messages=messages, tools=tools, stream=True):
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                name = name or call.function.name
                args += call.function.arguments or ""
    else:
        reply = c.chat.completions.create(model="up-gpt", messages=messages, tools=tools)
        call = reply.choices[0].message.tool_calls[0]
        name, args = call.function.name, call.function.arguments
        assert reply.choices[0].finish_reason == "tool_calls"
    assert name == "lookup"
    assert json.loads(args) == {"input": "Mock reply to: and again"}
    sent = upstream.recorder.last().body
    assert sent["tools"] == tools and sent["messages"] == messages


def test_multipart_content_passes_through_unchanged(gateway: Gateway, upstream: Upstream):
    content = [
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png", "detail": "low"}},
    ]
    reply = client(gateway).chat.completions.create(model="up-gpt", messages=[{"role": "user", "content": content}])
    assert reply.choices[0].message.content == "Mock reply to: describe"
    assert upstream.recorder.last().body["messages"][0]["content"] == content


def test_model_rename_goes_upstream_under_the_provider_name(gateway: Gateway, upstream: Upstream):
    client(gateway).chat.completions.create(model="renamed", messages=[{"role": "user", "content": "hi"}])
    assert upstream.recorder.last().body["model"] == "actual-model"


def test_embeddings_float_and_base64(gateway: Gateway, upstream: Upstream):
    c = client(gateway)
    default = c.embeddings.create(model="up-embed", input=["alpha", "beta"])  # the SDK asks for base64
    floats = c.embeddings.create(model="up-embed", input=["alpha", "beta"], encoding_format="float")
    assert len(default.data) == 2 and len(default.data[0].embedding) == 8
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, rel=1e-6)
    assert default.data[0].embedding != default.data[1].embedding
    assert default.usage.prompt_tokens > 0
    assert upstream.recorder.last().path == "/embeddings"


def test_builtin_mock_provider_serves_chat_stream_and_embeddings(gateway: Gateway, upstream: Upstream):
    c = client(gateway)
    reply = c.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "local"}], n=2)
    assert [ch.message.content for ch in reply.choices] == ["Mock reply to: local"] * 2
    pieces = [
        ch.choices[0].delta.content or ""
        for ch in c.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "s"}], stream=True)
        if ch.choices
    ]
    assert "".join(pieces) == "Mock reply to: s" and len([p for p in pieces if p]) > 1
    vec = c.embeddings.create(model="mock-embed", input="x").data[0].embedding
    assert len(vec) == 16
    assert upstream.recorder.requests == []  # the mock never leaves the process


def test_max_tokens_truncates_mock_reply(gateway: Gateway):
    reply = client(gateway).chat.completions.create(
        model="mock-gpt", messages=[{"role": "user", "content": "a long question " * 5}], max_tokens=2
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 2


def test_completions(gateway: Gateway, upstream: Upstream):
    reply = client(gateway).completions.create(model="up-gpt", prompt="Once upon")
    assert reply.choices[0].text == "Mock completion of: Once upon"
    assert upstream.recorder.last().path == "/completions"


def test_models_lists_only_what_the_agent_may_use(gateway: Gateway):
    everything = {m.id for m in client(gateway).models.list()}
    assert {"up-gpt", "mock-gpt", "up-embed"} <= everything
    assert {m.id for m in client(gateway, BOB).models.list()} == {"up-gpt"}


def test_embeddings_raw_base64_is_float32(gateway: Gateway):
    r = httpx.post(
        gateway.base_url + "/embeddings",
        headers={"Authorization": f"Bearer {ALICE}"},
        json={"model": "mock-embed", "input": "x", "encoding_format": "base64"},
    )
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    assert len(raw) == 16 * 4 and all(-1.0 <= v < 1.0 for v in struct.unpack("<16f", raw))
