"""The one walker (pii/walk.py): every text slot of every endpoint is counted, masked and restored,
in requests, whole replies and stream events alike."""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
import pytest

from config.schema import PiiPolicy
from gateway.tokenizer import count_request, encoding
from pii import (
    Span,
    StreamUnmasker,
    Vault,
    delta_slots,
    mask_payload,
    policy_from,
    reply_slots,
    request_slots,
    unmask_chunk,
    unmask_messages_event,
    unmask_reply,
    unmask_responses_event,
)
from pii.walk import json_output

ENC = encoding("o200k_base")
EMAIL = "zoë@exämple.io"
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def emails(text: str, types: frozenset[str]) -> list[Span]:
    return [Span(m.start(), m.end(), "EMAIL") for m in EMAIL_RE.finditer(text)]


# One request per endpoint with the address in every kind of text slot it has.
REQUESTS: dict[str, dict[str, Any]] = {
    "/chat/completions": {"messages": [
        {"role": "system", "content": f"sys {EMAIL}"},
        {"role": "user", "name": EMAIL, "content": [{"type": "text", "text": f"part {EMAIL}"},
                                                    {"type": "image_url", "image_url": {"url": "u"}}]},
        {"role": "assistant", "content": None, "refusal": f"no {EMAIL}", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": f'{{"to": "{EMAIL}"}}'}}]},
        {"role": "tool", "tool_call_id": "c", "content": f"sent {EMAIL}"},
        {"role": "assistant", "function_call": {"name": "g", "arguments": f'{{"to": "{EMAIL}"}}'}},
    ]},
    "/completions": {"prompt": [f"p {EMAIL}", f"q {EMAIL}"]},
    "/embeddings": {"input": f"e {EMAIL}"},
    "/responses": {"instructions": f"i {EMAIL}", "input": [
        {"role": "user", "content": f"a {EMAIL}"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"b {EMAIL}"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": f"c {EMAIL}"},
                                                             {"type": "refusal", "refusal": f"d {EMAIL}"}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": f'{{"to": "{EMAIL}"}}'},
        {"type": "function_call_output", "call_id": "c", "output": f"e {EMAIL}"},
        {"type": "function_call_output", "call_id": "d", "output": [{"type": "input_text", "text": f"f {EMAIL}"}]},
        {"type": "custom_tool_call", "call_id": "g", "name": "sh", "input": f"mail {EMAIL}"},
        {"type": "custom_tool_call_output", "call_id": "g", "output": f"h {EMAIL}"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": f"r {EMAIL}"}]},
    ]},
    "/messages": {"system": [{"type": "text", "text": f"s {EMAIL}"}], "messages": [
        {"role": "user", "content": f"a {EMAIL}"},
        {"role": "user", "content": [{"type": "text", "text": f"b {EMAIL}"},
                                     {"type": "document", "source": {"type": "text", "data": f"doc {EMAIL}"}}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": f"t {EMAIL}", "signature": "x"},
                                          {"type": "tool_use", "id": "t", "name": "f",
                                           "input": {"to": [EMAIL], "n": 1, "deep": {"cc": f"cc {EMAIL}"}}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": f"c {EMAIL}"},
                                     {"type": "tool_result", "tool_use_id": "u",
                                      "content": [{"type": "text", "text": f"d {EMAIL}"}]}]},
    ]},
}  # fmt: skip
SLOTS = {"/chat/completions": 7, "/completions": 2, "/embeddings": 1, "/responses": 11, "/messages": 9}


@pytest.mark.parametrize("endpoint", list(REQUESTS))
def test_every_slot_is_masked_the_same_way(endpoint: str):
    payload = copy.deepcopy(REQUESTS[endpoint])
    vault = Vault()
    mask_payload(endpoint, payload, policy_from(PiiPolicy()), vault, emails)
    assert EMAIL not in orjson.dumps(payload).decode()
    slots = list(request_slots(endpoint, payload))
    assert len(slots) == SLOTS[endpoint] == vault.counts["EMAIL"]
    for slot in slots:  # a name takes the placeholder without its delimiters: providers allow no `<` there
        assert ("EMAIL_1" if slot.name else "<EMAIL_1>") in slot.text


@pytest.mark.parametrize("endpoint", list(REQUESTS))
def test_every_slot_is_counted(endpoint: str):
    base = count_request(ENC, endpoint, REQUESTS[endpoint])
    for i in range(SLOTS[endpoint]):
        longer = copy.deepcopy(REQUESTS[endpoint])
        slot = list(request_slots(endpoint, longer))[i]
        slot.set(slot.text + " and five more words here")
        assert count_request(ENC, endpoint, longer) >= base + 5, (i, slot.text)


def test_a_message_name_is_counted_masked_and_restored():
    vault = Vault()
    payload = {"messages": [{"role": "user", "name": "jane.doe@example-corp.io", "content": "hi"}]}
    unnamed = count_request(ENC, "/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    assert count_request(ENC, "/chat/completions", payload) > unnamed + 5
    mask_payload("/chat/completions", payload, policy_from(PiiPolicy()), vault, emails)
    assert payload["messages"][0]["name"] == "EMAIL_1"
    # The provider may quote the name back in any text slot, delimited or not: delimited ones are restored.
    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hello <EMAIL_1> (EMAIL_1)"}}]}
    unmask_reply("/chat/completions", reply, vault)
    assert reply["choices"][0]["message"]["content"] == "hello jane.doe@example-corp.io (EMAIL_1)"


def escaped(text: str) -> str:
    """JSON text with each placeholder's characters escaped, upper-case hex (`\\u003C\\u0045…`)."""
    return re.sub(r"<[A-Z_]+_\d+>", lambda m: "".join(f"\\u{ord(c):04X}" for c in m.group(0)), text)


REPLIES: dict[str, dict[str, Any]] = {
    "/chat/completions": {"choices": [{"index": 0, "message": {
        "role": "assistant", "content": "a <EMAIL_1>", "refusal": "r <EMAIL_1>",
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": escaped('{"to": "<EMAIL_1>"}')}}],
        "function_call": {"name": "g", "arguments": escaped('{"to": "<EMAIL_1>"}')}}}]},
    "/completions": {"choices": [{"index": 0, "text": "t <EMAIL_1>"}]},
    "/responses": {"output": [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "r <EMAIL_1>"}]},
        {"type": "message", "content": [{"type": "output_text", "text": "a <EMAIL_1>"},
                                        {"type": "refusal", "refusal": "b <EMAIL_1>"}]},
        {"type": "function_call", "name": "f", "arguments": escaped('{"to": "<EMAIL_1>"}')},
        {"type": "custom_tool_call", "name": "sh", "input": "mail <EMAIL_1>"},
    ]},
    "/messages": {"content": [
        {"type": "thinking", "thinking": "t <EMAIL_1>"}, {"type": "text", "text": "a <EMAIL_1>"},
        {"type": "tool_use", "id": "t", "name": "f", "input": {"to": ["<EMAIL_1>"], "deep": {"cc": "<EMAIL_1>"}}},
    ]},
}  # fmt: skip


@pytest.mark.parametrize("endpoint", list(REPLIES))
def test_every_reply_slot_is_restored_json_escaped_where_it_is_json(endpoint: str):
    vault = Vault()
    vault.placeholder("EMAIL", 'zo"ë@x.io')  # a quote: JSON text must get it escaped
    reply = copy.deepcopy(REPLIES[endpoint])
    unmask_reply(endpoint, reply, vault)
    text = orjson.dumps(reply).decode()
    assert "EMAIL_1" not in text and "u0045" not in text
    for item in reply.get("output") or [c["message"] for c in reply.get("choices") or () if "message" in c]:
        for call in [item, *item.get("tool_calls", []), *[item[k] for k in ("function_call",) if k in item]]:
            arguments = call.get("arguments") or call.get("function", {}).get("arguments")
            if arguments:
                assert orjson.loads(arguments) == {"to": 'zo"ë@x.io'}


def test_a_value_masked_in_json_text_is_kept_decoded_and_restored_right_in_any_slot():
    # `\u00eb` in tool-call arguments is "ë": the vault keeps the value as it reads, so it comes back
    # as "ë" in plain text and JSON-escaped (not doubly) in JSON text.
    arguments = '{"who": "Zo\\u00eb Keller", "quote": "say \\"hi\\""}'
    payload = {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": arguments}}]}]}

    def person(text: str, types: frozenset[str]) -> list[Span]:
        start = text.find("Zo\\u00eb")
        return [Span(start, start + len("Zo\\u00eb Keller"), "PERSON")] if start >= 0 else []

    vault = Vault()
    mask_payload("/chat/completions", payload, policy_from(PiiPolicy(types=["PERSON"])), vault, person)
    assert payload["messages"][0]["tool_calls"][0]["function"]["arguments"] == (
        '{"who": "<PERSON_1>", "quote": "say \\"hi\\""}'
    )
    assert vault.value("<PERSON_1>") == "Zoë Keller"
    assert vault.restore("<PERSON_1>") == "Zoë Keller"
    assert orjson.loads(vault.restore('{"a": "\\u003CPERSON_1\\u003E"}', escape=True)) == {"a": "Zoë Keller"}


def test_an_escaped_backslash_before_u003c_is_text_not_a_placeholder():
    vault = Vault()
    vault.placeholder("EMAIL", "a@x.io")
    literal = '{"t": "\\\\u003cEMAIL_1\\u003e"}'  # the string reads `\u003cEMAIL_1>`: no placeholder
    assert vault.restore(literal, escape=True) == literal
    assert vault.restore('{"t": "\\\\\\u003cEMAIL_1\\u003e"}', escape=True) == '{"t": "\\\\a@x.io"}'


def split_events(events: list[dict[str, Any]], path: tuple[Any, ...], size: int) -> list[dict[str, Any]]:
    """Each event whose text sits at `path` cut into `size`-character events."""
    out = []
    for event in events:
        holder: Any = event
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else holder[key]
        text = holder.get(path[-1]) if isinstance(holder, dict) else None
        if not isinstance(text, str):
            out.append(event)
            continue
        for k in range(0, len(text), size):
            holder[path[-1]] = text[k : k + size]
            out.append(copy.deepcopy(event))
    return out


@pytest.mark.parametrize("size", [1, 2, 5])
def test_every_stream_delta_is_restored_split_anywhere(size: int):
    vault = Vault()
    vault.placeholder("EMAIL", 'zo"ë@x.io')
    text, args = "hi <EMAIL_1>!", escaped('{"to": "<EMAIL_1>"}')
    want_args = {"to": 'zo"ë@x.io'}
    # Chat: content, refusal and tool-call arguments, flushed in the finishing chunk.
    u = StreamUnmasker(vault)
    got: dict[str, str] = {"content": "", "refusal": "", "arguments": "", "function_call": ""}
    chunks = [{"choices": [{"index": 0, "delta": {field: value}}]}
              for field, value in (("content", text), ("refusal", text))]  # fmt: skip
    chunks = split_events(chunks[:1], ("choices", 0, "delta", "content"), size) + split_events(
        chunks[1:], ("choices", 0, "delta", "refusal"), size
    )
    tool = {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args}}]}}]}
    chunks += split_events([tool], ("choices", 0, "delta", "tool_calls", 0, "function", "arguments"), size)
    legacy = {"choices": [{"index": 0, "delta": {"function_call": {"arguments": args}}}]}
    chunks += split_events([legacy], ("choices", 0, "delta", "function_call", "arguments"), size)
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    for chunk in chunks:
        unmask_chunk(chunk, u)
        delta = chunk["choices"][0]["delta"]
        got["content"] += delta.get("content") or ""
        got["refusal"] += delta.get("refusal") or ""
        got["arguments"] += "".join(c["function"]["arguments"] for c in delta.get("tool_calls") or ())
        got["function_call"] += (delta.get("function_call") or {}).get("arguments", "")
    assert got["content"] == got["refusal"] == 'hi zo"ë@x.io!' and orjson.loads(got["arguments"]) == want_args
    assert orjson.loads(got["function_call"]) == want_args
    assert not u.held_keys()
    # Responses: every delta kind, each flushed before its `.done`.
    u = StreamUnmasker(vault)
    for prefix, whole in (("response.output_text", text), ("response.refusal", text),
                          ("response.function_call_arguments", args), ("response.custom_tool_call_input", text),
                          ("response.reasoning_summary_text", text)):  # fmt: skip
        ids = {"item_id": "i", "output_index": 0, "content_index": 0, "summary_index": 0}
        events = split_events([{"type": prefix + ".delta", **ids, "delta": whole}], ("delta",), size)
        events.append(
            {"type": prefix + ".done", **ids, "arguments": args, "text": text, "refusal": text, "input": text}
        )
        sent = [e for event in events for e in unmask_responses_event(event, u)]
        streamed = "".join(e["delta"] for e in sent if e["type"].endswith(".delta"))
        done = sent[-1]
        if prefix == "response.function_call_arguments":
            assert orjson.loads(streamed) == orjson.loads(done["arguments"]) == want_args
        else:
            assert (
                streamed
                == 'hi zo"ë@x.io!'
                == done[{"response.refusal": "refusal", "response.custom_tool_call_input": "input"}.get(prefix, "text")]
            )
    assert not u.held_keys()
    # Messages: text, thinking and input JSON deltas, each flushed before its block stops.
    u = StreamUnmasker(vault)
    for kind, field, whole in (("text_delta", "text", text), ("thinking_delta", "thinking", text),
                               ("input_json_delta", "partial_json", args)):  # fmt: skip
        events = split_events([{"type": "content_block_delta", "index": 2, "delta": {"type": kind, field: whole}}],
                              ("delta", field), size)  # fmt: skip
        events.append({"type": "content_block_stop", "index": 2})
        sent = [e for event in events for e in unmask_messages_event(event, u)]
        streamed = "".join(e["delta"][field] for e in sent if e["type"] == "content_block_delta")
        assert (orjson.loads(streamed) == want_args) if kind == "input_json_delta" else streamed == 'hi zo"ë@x.io!'
    assert not u.held_keys()


def test_accounting_reads_the_same_deltas_the_unmasker_restores():
    event = {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}}
    assert [(k, s.text, s.json) for k, s in delta_slots("/messages", event)] == [((0, "input_json_delta"), "{}", True)]
    ping = {"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 1, "delta": "x"}
    assert [k for k, _ in delta_slots("/responses", ping)] == [("response.output_text", "m", 0, 1)]
    assert list(delta_slots("/responses", {"type": "response.created"})) == []


@pytest.mark.parametrize(
    ("endpoint", "asks"),
    [
        ("/chat/completions", {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}),
        ("/responses", {"text": {"format": {"type": "json_object"}}}),
        ("/messages", {"output_format": {"type": "json_schema", "schema": {}}}),
    ],
)
def test_asked_for_json_output_the_replys_text_is_restored_as_json(endpoint: str, asks: dict[str, Any]):
    assert json_output(endpoint, asks) and not json_output(endpoint, {"response_format": {"type": "text"}})
    vault = Vault()
    mask_payload(endpoint, {**asks, "messages": [], "input": "x"}, policy_from(PiiPolicy()), vault, emails)
    assert vault.json_output
    vault.placeholder("EMAIL", 'zo"ë@x.io')
    text = escaped('{"to": "<EMAIL_1>"}')
    want = {"to": 'zo"ë@x.io'}
    replies = {
        "/chat/completions": {"choices": [{"index": 0, "message": {"content": text}}]},
        "/responses": {"output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}]},
        "/messages": {"content": [{"type": "text", "text": text}]},
    }
    reply = replies[endpoint]
    unmask_reply(endpoint, reply, vault)
    assert [orjson.loads(s.text) for s in reply_slots(endpoint, reply)] == [want]
    # Streamed one character a delta: escapes split anywhere, the held text flushed at the end.
    u = StreamUnmasker(vault)
    if endpoint == "/chat/completions":
        chunks = [{"choices": [{"index": 0, "delta": {"content": c}}]} for c in text]
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        for chunk in chunks:
            unmask_chunk(chunk, u)
        streamed = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    elif endpoint == "/responses":
        ids = {"item_id": "m", "output_index": 0, "content_index": 0}
        events = [{"type": "response.output_text.delta", **ids, "delta": c} for c in text]
        events.append({"type": "response.output_text.done", **ids, "text": text})
        sent = [e for event in events for e in unmask_responses_event(event, u)]
        streamed = "".join(e["delta"] for e in sent if e["type"].endswith(".delta"))
        assert orjson.loads(sent[-1]["text"]) == want
    else:
        events = [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": c}} for c in text]
        events.append({"type": "content_block_stop", "index": 0})
        sent = [e for event in events for e in unmask_messages_event(event, u)]
        streamed = "".join(e["delta"]["text"] for e in sent if e["type"] == "content_block_delta")
    assert orjson.loads(streamed) == want


def test_placeholders_in_json_nested_in_a_json_string_are_restored_at_their_depth():
    # An argument that is itself JSON text: Go's encoder escapes `<` inside, then the outer encoding
    # doubles that backslash. The value must come back escaped once per level.
    vault = Vault()
    vault.placeholder("EMAIL", 'zo"ë\\@x.io')
    inner = orjson.dumps({"to": "<EMAIL_1>", "cc": "<EMAIL_9>"}).decode().replace("<", "\\u003c")
    outer = orjson.dumps({"inner": inner, "direct": "<EMAIL_1>"}).decode()
    outer = outer.replace('"<EMAIL_1>"', '"\\u003CEMAIL_1\\u003E"')  # one level deep, beside two levels deep
    assert "\\\\u003cEMAIL_1" in outer
    for text in (vault.restore(outer, escape=True), stream(vault, outer, 1), stream(vault, outer, 4)):
        got = orjson.loads(text)
        assert orjson.loads(got["inner"]) == {"to": 'zo"ë\\@x.io', "cc": "<EMAIL_9>"}
        assert got["direct"] == 'zo"ë\\@x.io'
    # Escapes that disagree on the depth spell no placeholder; a literal backslash before one does not hide it.
    mixed = '"\\\\u003cEMAIL_1\\u003e"'
    assert vault.restore(mixed, escape=True) == stream(vault, mixed, 1) == mixed
    prefixed = '"\\\\\\u003cEMAIL_1\\u003e"'  # reads: a backslash, then <EMAIL_1>
    assert orjson.loads(vault.restore(prefixed, escape=True)) == '\\zo"ë\\@x.io'
    assert stream(vault, prefixed, 1) == vault.restore(prefixed, escape=True)


def stream(vault: Vault, text: str, size: int) -> str:
    u = StreamUnmasker(vault)
    return "".join(u.feed("k", text[i : i + size], True) for i in range(0, len(text), size)) + u.flush("k")
