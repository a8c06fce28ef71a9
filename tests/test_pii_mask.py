"""Masking and unmasking cores, without sockets: vault, holdback, streaming unmasker, relay."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from config.schema import PiiPolicy
from gateway.relay import StreamRelay
from gateway.sse import encode_event
from pii import (
    PiiBlocked,
    PiiFailure,
    Span,
    StreamUnmasker,
    Vault,
    holdback,
    mask_payload,
    policy_from,
    unmask_reply,
)

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    return None  # these tests need no loopback upstream


def emails(text: str, types: frozenset[str]) -> list[Span]:
    return [Span(m.start(), m.end(), "EMAIL") for m in EMAIL_RE.finditer(text)] if "EMAIL" in types else []


def test_numbering_follows_first_appearance_and_repeats_reuse_the_placeholder():
    v = Vault()
    assert v.placeholder("EMAIL", "a@x.io") == "<EMAIL_1>"
    assert v.placeholder("PHONE", "+1 555 0100") == "<PHONE_1>"
    assert v.placeholder("EMAIL", "b@x.io") == "<EMAIL_2>"
    assert v.placeholder("EMAIL", "a@x.io") == "<EMAIL_1>"
    assert v.counts == {"EMAIL": 3, "PHONE": 1}


def test_literal_placeholders_in_the_input_are_never_minted():
    v = Vault()
    v.reserve_literals("please keep <EMAIL_1> and <EMAIL_3> as they are")
    assert v.placeholder("EMAIL", "real@x.io") == "<EMAIL_2>"
    assert v.placeholder("EMAIL", "other@x.io") == "<EMAIL_4>"
    # The literal comes back as the literal, never as someone's address.
    assert v.restore("<EMAIL_1> <EMAIL_2>") == "<EMAIL_1> real@x.io"
    assert v.unknown == 1


def test_restore_is_exact_match_only_and_escapes_inside_json():
    v = Vault()
    v.placeholder("API_KEY", 'k"ey\\1')
    assert v.restore("<API_KEY_1>") == 'k"ey\\1'
    assert v.restore('{"k": "<API_KEY_1>"}', escape=True) == '{"k": "k\\"ey\\\\1"}'
    assert orjson.loads(v.restore('{"k": "<API_KEY_1>"}', escape=True)) == {"k": 'k"ey\\1'}
    assert v.restore("<API_KEY_1 > <api_key_1> <API_KEY_01> <API_KEY_2>") == (
        "<API_KEY_1 > <api_key_1> <API_KEY_01> <API_KEY_2>"
    )


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("hello", 0),
        ("hello <", 1),
        ("hello <E", 2),
        ("hello <EMAIL", 6),
        ("hello <EMAIL_", 7),
        ("hello <EMAIL_12", 9),
        ("hello <DATE_OF_BIRTH_", 15),
        ("hello <EMAIL_1>", 0),
        ("a < b", 0),
        ("x <em", 0),
        ("<" + "A" * 40, 0),
    ],
)
def test_holdback_is_the_longest_suffix_that_could_become_a_placeholder(text: str, held: int):
    assert holdback(text) == held


def test_a_placeholder_split_at_every_position_is_restored_exactly():
    v = Vault()
    v.placeholder("EMAIL", "jane@corp.example")
    masked = "Write to <EMAIL_1>, or <EMAIL_1>! <EMAI> stays. é<EMAIL_9> too."
    for size in (1, 2, 3, 5, 7):
        u = StreamUnmasker(v)
        out = "".join(u.feed("k", masked[i : i + size]) for i in range(0, len(masked), size)) + u.flush("k")
        assert out == "Write to jane@corp.example, or jane@corp.example! <EMAI> stays. é<EMAIL_9> too."


def test_an_escaped_placeholder_in_json_text_split_at_every_position_is_restored():
    # Go's encoder writes `<`/`>` as \u003c/\u003e; any character may be escaped (\u0045 is "E").
    v = Vault()
    v.placeholder("EMAIL", 'jane"q@corp.example')
    args = r'{"to": "\u003cEMAIL_1\u003e", "cc": "\u003C\u0045MAIL_1\u003E", "x": "\u003cEMAIL_7\u003e \u00e9"}'
    want = r'{"to": "jane\"q@corp.example", "cc": "jane\"q@corp.example", "x": "\u003cEMAIL_7\u003e \u00e9"}'
    assert v.restore(args, escape=True) == want
    assert v.restore(args) == args  # plain text: an escape is just characters
    for size in (1, 2, 3, 5, 7):
        u = StreamUnmasker(v)
        out = "".join(u.feed("k", args[i : i + size], True) for i in range(0, len(args), size)) + u.flush("k")
        assert out == want


def test_mask_payload_masks_every_text_of_a_chat_request():
    payload: dict[str, Any] = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Admin is root@corp.example"},
            {"role": "user", "content": [{"type": "text", "text": "mail bob@x.io"}, {"type": "image_url"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": '{"to": "bob@x.io"}'}}],
            },
            {"role": "tool", "tool_call_id": "1", "content": "sent to bob@x.io and eve@x.io"},
        ],
    }
    v = Vault()
    mask_payload("/chat/completions", payload, policy_from(None), v, emails)
    assert "@" not in orjson.dumps(payload).decode()
    assert payload["messages"][0]["content"] == "Admin is <EMAIL_1>"
    assert payload["messages"][1]["content"][0]["text"] == "mail <EMAIL_2>"
    assert payload["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"to": "<EMAIL_2>"}'
    assert payload["messages"][3]["content"] == "sent to <EMAIL_2> and <EMAIL_3>"
    assert v.counts == {"EMAIL": 5}


@pytest.mark.parametrize(("endpoint", "key"), [("/completions", "prompt"), ("/embeddings", "input")])
def test_mask_payload_masks_prompts_and_inputs(endpoint: str, key: str):
    for value in ("to a@x.io", ["to a@x.io", "b@x.io", [1, 2]]):
        payload = {"model": "m", key: value}
        mask_payload(endpoint, payload, policy_from(None), Vault(), emails)
        assert "@" not in orjson.dumps(payload).decode()


def test_block_action_refuses_naming_types_not_values():
    policy = policy_from(PiiPolicy(actions={"EMAIL": "block"}))
    with pytest.raises(PiiBlocked) as e:
        mask_payload(
            "/chat/completions", {"messages": [{"role": "user", "content": "a@x.io"}]}, policy, Vault(), emails
        )
    assert e.value.types == ["EMAIL"] and "a@x.io" not in str(e.value)


def test_allow_action_leaves_values_and_a_detector_fault_fails_closed():
    payload = {"messages": [{"role": "user", "content": "a@x.io"}]}
    mask_payload("/chat/completions", payload, policy_from(PiiPolicy(actions={"EMAIL": "allow"})), Vault(), emails)
    assert payload["messages"][0]["content"] == "a@x.io"

    def broken(text: str, types: frozenset[str]) -> list[Span]:
        raise RuntimeError("boom " + text)  # the message would carry PII: it must not leak

    with pytest.raises(PiiFailure) as e:
        mask_payload("/chat/completions", payload, policy_from(None), Vault(), broken)
    assert "a@x.io" not in str(e.value)
    with pytest.raises(PiiFailure):
        mask_payload("/chat/completions", payload, policy_from(PiiPolicy(ner=True)), Vault(), emails)


def test_non_stream_reply_restores_content_and_tool_arguments():
    v = Vault()
    v.placeholder("EMAIL", "a@x.io")
    reply = {
        "choices": [
            {"index": 0, "message": {"content": "hi <EMAIL_1>", "tool_calls": [
                {"function": {"name": "f", "arguments": '{"to": "<EMAIL_1>"}'}}]}},
            {"index": 1, "text": "<EMAIL_1>"},
        ]
    }  # fmt: skip
    unmask_reply("/chat/completions", reply, v)
    assert reply["choices"][0]["message"]["content"] == "hi a@x.io"
    assert orjson.loads(reply["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {"to": "a@x.io"}
    assert reply["choices"][1]["text"] == "a@x.io"


def chunk(i: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {"id": "c", "object": "chat.completion.chunk", "model": "m",
           "choices": [{"index": i, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return encode_event(orjson.dumps(obj))


def run_relay(stream: bytes, vault: Vault, size: int) -> list[dict[str, Any]]:
    relay = StreamRelay(strip_usage=False, unmasker=StreamUnmasker(vault))
    out = b"".join(relay.feed(stream[i : i + size]) for i in range(0, len(stream), size)) + relay.finish()
    events = [e.removeprefix(b"data: ") for e in out.split(b"\n\n") if e]
    assert events[-1] == b"[DONE]"
    return [orjson.loads(e) for e in events[:-1]]


def test_relay_restores_split_placeholders_in_two_choices_and_tool_calls_byte_by_byte():
    v = Vault()
    v.placeholder("EMAIL", "zoë@exämple.io")  # multi-byte UTF-8, split across reads too
    v.placeholder("PHONE", "+44 20 7946 0958")
    parts = ["Call <PH", "ONE_1> or mail <", "EMAIL_1", ">", " — ünïcode <EMAIL_"]
    stream = b"".join(chunk(i, {"content": p}) for p in parts for i in (0, 1))
    args = ['{"to": "<EM', 'AIL_1>", "n": "<PHONE_1', '>"}']
    stream += b"".join(chunk(0, {"tool_calls": [{"index": 0, "function": {"arguments": a}}]}) for a in args)
    stream += chunk(0, {}, "stop") + chunk(1, {}, "stop") + encode_event(b"[DONE]")
    for size in (1, 3, 64):
        events = run_relay(stream, v, size)
        for i in (0, 1):
            text = "".join(
                c["choices"][0]["delta"].get("content") or "" for c in events if c["choices"][0]["index"] == i
            )
            assert text == "Call +44 20 7946 0958 or mail zoë@exämple.io — ünïcode <EMAIL_"
        arguments = "".join(
            tc["function"]["arguments"] for c in events for tc in c["choices"][0]["delta"].get("tool_calls") or []
        )
        assert orjson.loads(arguments) == {"to": "zoë@exämple.io", "n": "+44 20 7946 0958"}


def test_relay_flushes_held_text_when_the_stream_breaks():
    v = Vault()
    v.placeholder("EMAIL", "a@x.io")
    relay = StreamRelay(strip_usage=False, unmasker=StreamUnmasker(v))
    out = relay.feed(chunk(0, {"content": "end <EMAIL_1"}))
    assert b"<EMAIL_1" not in out
    tail = relay.finish()
    assert b"<EMAIL_1" in tail and b'"error"' in tail and tail.endswith(b"data: [DONE]\n\n")
