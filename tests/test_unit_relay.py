"""gateway.relay.StreamRelay: upstream SSE bytes in, client bytes out, usage and text collected."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.relay import TEXT_BATCH, StreamRelay
from gateway.sse import MAX_EVENT_BYTES, SSEParser


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def ev(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


DONE = b"data: [DONE]\n\n"
USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def content(text: str) -> bytes:
    return ev({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]})


def usage_only() -> bytes:
    return ev({"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": USAGE})


def datas(out: bytes) -> list[bytes | None]:
    parser = SSEParser()
    events = parser.feed(out)
    assert not parser.pending(), f"relay output ends inside an event: {out!r}"
    return [e.data for e in events]


def test_events_pass_through_byte_identical():
    # Odd spacing and key order must survive: the relay forwards the event bytes, not a re-encoding.
    stream = b'data: {"choices": [ {"delta":{"content":"a"}, "index":0} ]}\n\n: keep-alive\n\n' + DONE
    relay = StreamRelay(strip_usage=False)
    assert relay.feed(stream) == stream


def test_byte_by_byte_input_gives_the_same_output():
    stream = content("Hel") + content("lo") + usage_only() + DONE
    relay = StreamRelay(strip_usage=False)
    out = b"".join(relay.feed(stream[i : i + 1]) for i in range(len(stream)))
    assert out == stream
    assert relay.done and relay.failed is None


def test_usage_only_chunk_is_stripped_when_asked():
    relay = StreamRelay(strip_usage=True)
    out = relay.feed(content("hi") + usage_only() + DONE)
    assert out == content("hi") + DONE
    assert relay.usage() == (5, 2)


def test_usage_only_chunk_is_kept_when_not_stripping():
    relay = StreamRelay(strip_usage=False)
    out = relay.feed(content("hi") + usage_only() + DONE)
    assert out == content("hi") + usage_only() + DONE
    assert relay.usage() == (5, 2)


def test_usage_is_removed_from_a_chunk_that_also_has_choices_when_stripping():
    chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"content": "x"}}], "usage": USAGE}
    relay = StreamRelay(strip_usage=True)
    [data] = datas(relay.feed(ev(chunk)))
    assert data is not None
    assert orjson.loads(data) == {"id": "c1", "choices": [{"index": 0, "delta": {"content": "x"}}]}
    assert relay.usage() == (5, 2)


def test_null_usage_passes_through_and_is_not_recorded():
    chunk = ev({"choices": [{"index": 0, "delta": {"content": "x"}}], "usage": None})
    relay = StreamRelay(strip_usage=True)
    assert relay.feed(chunk) == chunk
    assert relay.usage() is None


def test_text_is_collected_from_content_deltas():
    relay = StreamRelay(strip_usage=False)
    relay.feed(content("Hel") + content("lo") + DONE)
    assert relay.generated_text() == "Hello"


def test_text_of_a_long_stream_without_usage_is_collected_in_order():
    """The chat relay takes text out of its events lazily, in batches past TEXT_BATCH bytes."""
    relay = StreamRelay(strip_usage=False)
    words = [f"w{i} " for i in range(2 * TEXT_BATCH // 60)]  # events of ~90 bytes: several batches
    for w in words:
        relay.feed(content(w))
    assert len(relay._unread) < len(words)  # batches were read on the way, not all kept
    relay.feed(DONE)
    assert relay.generated_text() == "".join(words)


def test_text_is_collected_from_tool_call_argument_deltas():
    def call(args: str) -> bytes:
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": args}}]}
        return ev({"choices": [{"index": 0, "delta": delta}]})

    relay = StreamRelay(strip_usage=False)
    relay.feed(call('{"q":') + call(' "x"}') + DONE)
    assert relay.generated_text() == '{"q": "x"}'


def test_text_is_collected_from_completions_text():
    relay = StreamRelay(strip_usage=False)
    relay.feed(ev({"choices": [{"index": 0, "text": "once "}]}) + ev({"choices": [{"index": 0, "text": "upon"}]}))
    assert relay.generated_text() == "once upon"


def test_events_counts_json_chunks_only():
    relay = StreamRelay(strip_usage=True)
    relay.feed(b": ping\n\n" + content("a") + usage_only() + DONE)
    assert relay.events == 2


def test_malformed_json_mid_stream_ends_with_an_error_event_and_done():
    relay = StreamRelay(strip_usage=False)
    out = relay.feed(content("ok") + b"data: {not json\n\n" + content("never"))
    assert out.startswith(content("ok"))
    events = datas(out)
    assert len(events) == 3
    error = orjson.loads(events[1] or b"")
    assert set(error) == {"error"}
    assert error["error"]["type"] == "upstream_error"
    assert error["error"]["code"] == "upstream_stream_error"
    assert "malformed" in error["error"]["message"]
    assert events[2] == b"[DONE]"
    assert relay.failed


def test_nothing_is_sent_after_the_error():
    relay = StreamRelay(strip_usage=False)
    relay.feed(b"data: {not json\n\n")
    assert relay.feed(content("late") + DONE) == b""
    assert relay.finish() == b""
    assert relay.abort("again") == b""


def test_json_that_is_not_an_object_is_malformed():
    relay = StreamRelay(strip_usage=False)
    events = datas(relay.feed(b"data: [1, 2]\n\n"))
    assert "error" in orjson.loads(events[0] or b"")
    assert events[-1] == b"[DONE]"


def test_odd_tool_calls_value_is_relayed_rather_than_raising():
    relay = StreamRelay(strip_usage=False)
    odd = ev({"choices": [{"index": 0, "delta": {"tool_calls": 1}}]})
    assert relay.feed(odd) == odd
    assert not relay.failed


def test_finish_without_done_sends_an_error_event_and_done():
    relay = StreamRelay(strip_usage=False)
    relay.feed(content("partial"))
    events = datas(relay.finish())
    assert len(events) == 2
    error = orjson.loads(events[0] or b"")["error"]
    assert error["code"] == "upstream_stream_error"
    assert "closed the stream early" in error["message"]
    assert events[1] == b"[DONE]"
    assert relay.failed


def test_finish_after_done_adds_nothing():
    relay = StreamRelay(strip_usage=False)
    relay.feed(content("x") + DONE)
    assert relay.finish() == b""
    assert relay.failed is None


def test_input_after_done_is_ignored():
    relay = StreamRelay(strip_usage=False)
    out = relay.feed(content("x") + DONE + content("extra"))
    assert out == content("x") + DONE
    assert relay.feed(content("later") + b"data: {garbage\n\n") == b""
    assert relay.generated_text() == "x"
    assert relay.failed is None


def test_oversized_event_ends_the_stream_with_an_error():
    relay = StreamRelay(strip_usage=False)
    events = datas(relay.feed(b"data: " + b"x" * MAX_EVENT_BYTES))
    assert f"larger than {MAX_EVENT_BYTES} bytes" in orjson.loads(events[0] or b"")["error"]["message"]
    assert events[1] == b"[DONE]"


def test_abort_sends_the_given_message():
    relay = StreamRelay(strip_usage=False)
    events = datas(relay.abort("the model provider stopped sending (read timeout)"))
    assert orjson.loads(events[0] or b"")["error"]["message"] == "the model provider stopped sending (read timeout)"
    assert events[1] == b"[DONE]"


def test_complete_stream_with_lone_cr_line_endings_is_not_reported_as_cut():
    relay = StreamRelay(strip_usage=False)
    relay.feed((content("x") + DONE).replace(b"\n", b"\r"))
    assert relay.finish() == b""
    assert relay.done
