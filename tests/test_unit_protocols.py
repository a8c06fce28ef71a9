"""The Responses and Messages cores without sockets: walkers, relays split at every byte, mock
event sequences, validation and error shapes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from config.schema import PiiPolicy, Provider
from gateway import mock
from gateway.errors import ApiError
from gateway.payloads import Endpoint, validate
from gateway.protocols import ADAPTERS
from gateway.relay import MessagesRelay, ResponsesRelay
from gateway.sse import SSEParser
from gateway.tokenizer import encoding
from pii import StreamUnmasker, Vault, mask_payload, policy_from, request_slots

ENC = encoding("o200k_base")
EMAIL = "zoë@exämple.io"


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def emails_vault() -> Vault:
    v = Vault()
    v.placeholder("EMAIL", EMAIL)
    v.placeholder("PHONE", "+44 20 7946 0958")
    return v


def events(out: bytes) -> list[tuple[bytes | None, dict[str, Any]]]:
    parser = SSEParser()
    parsed = parser.feed(out)
    assert not parser.pending()
    return [(e.name, orjson.loads(e.data)) for e in parsed if e.data is not None]


def sse(body: list[dict[str, Any]]) -> bytes:
    """Events as a provider sends them, each named by its type."""
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in body)


def run(relay: ResponsesRelay | MessagesRelay, stream: bytes, size: int) -> list[tuple[bytes | None, dict[str, Any]]]:
    out = b"".join(relay.feed(stream[i : i + size]) for i in range(0, len(stream), size)) + relay.finish()
    return events(out)


def test_walkers_find_every_text_slot_in_conversation_order():
    responses = {
        "model": "m",
        "instructions": "i",
        "input": [
            {"role": "user", "content": "a"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "b"},
                                                            {"type": "input_image", "image_url": "u"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": '{"x": "c"}'},
            {"type": "function_call_output", "call_id": "c", "output": "d"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "e"}]},
        ],
    }  # fmt: skip
    assert [s.text for s in request_slots("/responses", responses)] == ["i", "a", "b", '{"x": "c"}', "d", "e"]
    messages = {
        "system": [{"type": "text", "text": "s"}],
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [{"type": "text", "text": "b"},
                                              {"type": "tool_use", "id": "t", "name": "f",
                                               "input": {"k": "c", "n": 1, "l": ["d", {"z": "e"}]}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "f"},
                                         {"type": "tool_result", "tool_use_id": "u",
                                          "content": [{"type": "text", "text": "g"}]}]},
        ],
    }  # fmt: skip
    assert [s.text for s in request_slots("/messages", messages)] == ["s", "a", "b", "c", "d", "e", "f", "g"]


def test_masking_a_messages_request_reaches_strings_inside_tool_inputs():
    payload = {
        "system": f"op {EMAIL}",
        "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f",
                                                         "input": {"to": [EMAIL]}}]}],
    }  # fmt: skip
    vault = Vault()
    mask_payload("/messages", payload, policy_from(PiiPolicy()), vault)
    assert payload["system"] == "op <EMAIL_1>"
    assert payload["messages"][0]["content"][0]["input"] == {"to": ["<EMAIL_1>"]}


@pytest.mark.parametrize("tools", [False, True])
def test_responses_relay_restores_values_split_at_every_byte(tools: bool):
    payload: dict[str, Any] = {"model": "m", "input": f"mail {EMAIL} <EMAIL_1> now", "store": False}
    if tools:
        payload["tools"] = [{"type": "function", "name": "f", "parameters": {}}]
    vault = Vault()
    mask_payload("/responses", payload, policy_from(PiiPolicy()), vault)
    stream = b"".join(mock.responses_stream(payload, "m", ENC, 10_000))
    for size in (1, 7, len(stream)):
        relay = ResponsesRelay(StreamUnmasker(vault))
        out = run(relay, stream, size)
        assert relay.done and relay.failed is None
        kinds = [e["type"] for _, e in out]
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        assert all(name == e["type"].encode() for name, e in out)
        deltas = "".join(e["delta"] for _, e in out if e["type"].endswith(".delta"))
        # The literal placeholder the user typed comes back as typed: it was never minted.
        expected = f"Mock reply to: mail {EMAIL} <EMAIL_1> now"
        final = out[-1][1]["response"]["output"][0]
        if tools:
            assert orjson.loads(deltas) == {"input": expected} == orjson.loads(final["arguments"])
        else:
            assert deltas == expected == final["content"][0]["text"]
        assert relay.usage() == (out[-1][1]["response"]["usage"]["input_tokens"],
                                 out[-1][1]["response"]["usage"]["output_tokens"])  # fmt: skip


def escaped_json_deltas(arguments: str, size: int) -> list[str]:
    """Tool-call JSON as Go's encoder writes it (`<` as `\\u003c`), cut into `size`-character deltas."""
    text = arguments.replace("<", "\\u003c").replace(">", "\\u003e")
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_json_escaped_placeholders_split_across_tool_call_deltas_are_restored(size: int):
    vault = emails_vault()
    arguments = '{"to": "<EMAIL_1>", "tel": "<PHONE_1>", "keep": "<EMAIL_9>"}'
    # Responses: function_call_arguments.delta
    body = [{"type": "response.function_call_arguments.delta", "item_id": "fc", "output_index": 0, "delta": d,
             "sequence_number": i} for i, d in enumerate(escaped_json_deltas(arguments, size))]  # fmt: skip
    body.append({"type": "response.function_call_arguments.done", "item_id": "fc", "output_index": 0,
                 "arguments": escaped_json_deltas(arguments, 10_000)[0], "sequence_number": 999})  # fmt: skip
    stream = sse(body)
    out = run(ResponsesRelay(StreamUnmasker(vault)), stream, 11)
    got = "".join(e["delta"] for _, e in out if e["type"].endswith(".delta"))
    want = {"to": EMAIL, "tel": "+44 20 7946 0958", "keep": "<EMAIL_9>"}
    assert orjson.loads(got) == want == orjson.loads(out[-2][1]["arguments"])
    # Messages: input_json_delta
    blocks = [{"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": d}}
              for d in escaped_json_deltas(arguments, size)]  # fmt: skip
    blocks.append({"type": "content_block_stop", "index": 1})
    stream = sse(blocks)
    relay = MessagesRelay(StreamUnmasker(vault))
    out = run(relay, stream, 13)
    got = "".join(e["delta"]["partial_json"] for _, e in out if e["type"] == "content_block_delta")
    assert orjson.loads(got) == want
    assert relay.failed == "the model provider closed the stream early"  # no message_stop in this stream


def test_messages_relay_restores_split_text_counts_usage_and_passes_pings():
    payload = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": f"hi {EMAIL}"}]}
    vault = Vault()
    mask_payload("/messages", payload, policy_from(PiiPolicy()), vault)
    stream = b"".join(mock.messages_stream(payload, "m", ENC, 10_000))
    for size in (1, 5, len(stream)):
        relay = MessagesRelay(StreamUnmasker(vault))
        out = run(relay, stream, size)
        assert relay.done and not relay.failed
        assert [e["type"] for _, e in out][:3] == ["message_start", "content_block_start", "ping"]
        text = "".join(e["delta"]["text"] for _, e in out if e["type"] == "content_block_delta")
        assert text == f"Mock reply to: hi {EMAIL}"
        delta = next(e for _, e in out if e["type"] == "message_delta")
        start = out[0][1]["message"]["usage"]
        assert relay.usage() == (start["input_tokens"], delta["usage"]["output_tokens"])


def test_held_text_is_flushed_before_the_error_event_when_a_stream_breaks():
    vault = emails_vault()
    relay = MessagesRelay(StreamUnmasker(vault))
    first = relay.feed(b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                       b'"delta":{"type":"text_delta","text":"to <EMAIL_1"}}\n\n')  # fmt: skip
    assert b"<EMAIL_1" not in first
    tail = events(relay.finish())
    assert tail[0][1]["delta"]["text"] == "<EMAIL_1" and tail[-1][0] == b"error"
    error = {"type": "api_error", "message": "the model provider closed the stream early"}
    assert tail[-1][1] == {"type": "error", "error": error}
    r = ResponsesRelay(StreamUnmasker(vault))
    r.feed(b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"m",'
           b'"output_index":0,"content_index":0,"delta":"x <EMA","sequence_number":4}\n\n')  # fmt: skip
    tail = events(r.abort("gone"))
    assert tail[0][1]["delta"] == "<EMA" and tail[-1][1]["code"] == "upstream_stream_error"
    assert [e["sequence_number"] for _, e in tail] == [5, 6]  # after the 4 sent: numbers never repeat


def test_held_text_flushed_as_its_own_delta_shifts_the_sequence_numbers_after_it():
    r = ResponsesRelay(StreamUnmasker(emails_vault()))
    body = [
        {"type": "response.output_text.delta", "delta": "x <EMA", "sequence_number": 0},
        {"type": "response.output_text.done", "text": "x <EMA", "sequence_number": 1},
        {"type": "response.completed", "response": {"output": []}, "sequence_number": 2},
    ]
    for e in body:
        e.update(item_id="m", output_index=0, content_index=0)
    out = run(r, sse(body), 9)
    assert [e["type"].rsplit(".", 1)[-1] for _, e in out] == ["delta", "delta", "done", "completed"]
    assert [e["sequence_number"] for _, e in out] == [0, 1, 2, 3]  # strictly increasing, as the API's are


def test_a_delta_whose_text_is_all_held_back_is_not_sent_empty():
    pieces = ["to ", "<EM", "AIL", "_1> ok"]
    body = [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}} for p in pieces]
    body.append({"type": "content_block_stop", "index": 0})
    stream = sse(body)
    out = run(MessagesRelay(StreamUnmasker(emails_vault())), stream, 1000)
    assert [e["delta"]["text"] for _, e in out if e["type"] == "content_block_delta"] == ["to ", f"{EMAIL} ok"]
    deltas = [{"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0,
               "delta": p, "sequence_number": i} for i, p in enumerate(pieces)]  # fmt: skip
    done = {"type": "response.output_text.done", "item_id": "m", "output_index": 0, "content_index": 0,
            "text": "to <EMAIL_1> ok", "sequence_number": 4}  # fmt: skip
    stream = sse([*deltas, done])
    out = run(ResponsesRelay(StreamUnmasker(emails_vault())), stream, 1000)
    assert [e.get("delta") for _, e in out] == ["to ", f"{EMAIL} ok", None, None]  # the last: no completed event
    assert [e["sequence_number"] for _, e in out] == [0, 1, 2, 3]


def test_an_error_event_from_the_provider_is_relayed_and_ends_the_stream():
    relay = MessagesRelay()
    out = relay.feed(b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n')
    assert events(out)[0][1]["error"]["type"] == "overloaded_error" and relay.failed
    assert relay.finish() == b""


def test_validation_names_the_bad_field():
    def error(endpoint: Endpoint, payload: dict[str, Any]) -> ApiError:
        with pytest.raises(ApiError) as e:
            validate(endpoint, payload)
        return e.value

    assert error(Endpoint.RESPONSES, {"model": "m"}).param == "input"
    assert error(Endpoint.RESPONSES, {"model": "m", "input": [1]}).param == "input[0]"
    assert error(Endpoint.RESPONSES, {"model": "m", "input": "x", "max_output_tokens": 0}).code == "invalid_value"
    assert error(Endpoint.MESSAGES, {"model": "m", "messages": [{"role": "user", "content": "x"}]}).param == (
        "max_tokens"
    )
    assert error(Endpoint.MESSAGES, {"model": "m", "max_tokens": 5, "messages": [{"role": "user"}]}).param == (
        "messages[0]"
    )


def test_worst_case_output_comes_from_each_protocols_own_cap():
    assert ADAPTERS[Endpoint.RESPONSES].output_cap({"max_output_tokens": 100}, 4096) == 100
    assert ADAPTERS[Endpoint.RESPONSES].output_cap({}, 4096) == 4096
    assert ADAPTERS[Endpoint.MESSAGES].output_cap({"max_tokens": 9000}, 4096) == 4096
    assert ADAPTERS[Endpoint.MESSAGES].output_key({}) == "max_tokens"


def test_anthropic_error_body_keeps_tollgates_code():
    body = orjson.loads(ApiError(429, "budget exceeded: …", "budget_exceeded", "team_daily").anthropic_body())
    assert body == {"type": "error", "error": {"type": "rate_limit_error", "message": "budget exceeded: …",
                                               "code": "team_daily"}}  # fmt: skip


def test_without_usage_the_relays_keep_the_generated_text_for_counting():
    payload = {"model": "m", "input": "count these words", "store": False}
    stream = b"".join(mock.responses_stream(payload, "m", ENC, 4)).replace(b'"usage":{', b'"usage_gone":{')
    relay = ResponsesRelay()
    relay.feed(stream)
    assert relay.done and relay.usage() is None
    assert relay.generated_text() == "Mock reply to: count these words"


def test_responses_state_is_refused_and_store_turned_off_unless_the_provider_may_keep_it():
    adapter = ADAPTERS[Endpoint.RESPONSES]
    stateless = Provider(name="p", kind="openai", base_url="http://127.0.0.1:1/v1", models=[{"name": "m"}])
    payload: dict[str, Any] = {"model": "m", "input": "x"}
    detail: dict[str, Any] = {}
    adapter.prepare(payload, stateless, detail)
    assert payload["store"] is False and detail == {"store_disabled": True}
    with pytest.raises(ApiError) as e:
        adapter.prepare({"model": "m", "input": "x", "previous_response_id": "resp_1"}, stateless, {})
    assert e.value.status == 400 and e.value.code == "state_not_allowed" and e.value.param == "previous_response_id"
    stateful = stateless.model_copy(update={"responses_state": True})
    payload = {"model": "m", "input": "x", "previous_response_id": "resp_1", "store": True}
    adapter.prepare(payload, stateful, {})
    assert payload["store"] is True
