"""The streaming relay's core, sans-IO: upstream SSE bytes in, bytes for the client out.

One relay per protocol, over one shared shell (`EventRelay`): SSE parsing, the end of a stream,
and a clean, explained end when the provider breaks off (the protocol's own error event), so
clients never hang. Each protocol's relay watches its events for usage and generated text (for
accounting) and restores masked values in them (bounded holdback per text slot).

- `StreamRelay`: Chat Completions and Completions; drops the usage chunk that tollgate asked for
  on the client's behalf; ends with `[DONE]`.
- `ResponsesRelay`: the Responses API's typed events; usage from `response.completed`.
- `MessagesRelay`: the Messages API's events; usage from `message_start` and `message_delta`.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import anthropic_error_body, error_body
from gateway.sse import Event, SSEError, SSEParser, encode_event
from pii import (
    StreamUnmasker,
    delta_slots,
    leftover_chunk,
    messages_leftover,
    responses_leftover,
    unmask_chunk,
    unmask_messages_event,
    unmask_responses_event,
)
from pii.walk import CHAT, MESSAGES, MESSAGES_DELTAS, RESPONSES

DONE = b"[DONE]"
# Chat events kept unread per stream, in bytes: ~300 chunks of the usual shape, a few hundred
# tokens; a longer stream without usage so far has its text taken out every 64 KiB.
TEXT_BATCH = 64 * 1024


class EventRelay:
    def __init__(self, unmasker: StreamUnmasker | None = None) -> None:
        self._parser = SSEParser()
        self._unmasker = unmasker
        self.tokens_in: int | None = None  # usage as the provider reported it; None: not reported
        self.tokens_out: int | None = None
        # Generated text as the provider sent it, for counting tokens when it reports no usage;
        # only the text is kept (not the events), so a long stream costs little memory.
        self._text: list[str] = []
        # Chat events whose text is not taken out yet (see StreamRelay._relay): most providers
        # report usage, and then it never is. Bounded: past TEXT_BATCH bytes it is taken out.
        self._unread: list[bytes] = []
        self._unread_bytes = 0
        self.done = False
        self.failed: str | None = None
        self.events = 0

    def feed(self, chunk: bytes) -> bytes:
        if self.done or self.failed:
            return b""
        try:
            events = self._parser.feed(chunk)
        except SSEError as e:
            return self._fail(f"malformed stream from the model provider: {e}")
        out: list[bytes] = []
        for ev in events:
            try:
                data = self._relay(ev)
            except (TypeError, ValueError, AttributeError, KeyError):  # valid JSON of an unexpected shape
                data = None
            if data is None:
                return b"".join(out) + self._fail("malformed stream from the model provider")
            out.append(data)
            if self.done or self.failed:
                break
        return b"".join(out)

    def finish(self) -> bytes:
        """The upstream body ended: close the stream properly if the provider did not."""
        if self.done or self.failed:
            return b""
        return self._fail("the model provider closed the stream early")

    def abort(self, message: str) -> bytes:
        if self.done or self.failed:
            return b""
        return self._fail(message)

    def _fail(self, message: str) -> bytes:
        self.failed = message
        return self._leftover() + self._error_event(message)

    def usage(self) -> tuple[int, int] | None:
        if self.tokens_in is None and self.tokens_out is None:
            return None
        return self.tokens_in or 0, self.tokens_out or 0

    def generated_text(self) -> str:
        """Everything the provider generated (as it sent it), for counting tokens without usage."""
        self._read_text()
        return "".join(self._text)

    def _keep_text(self, data: bytes) -> None:
        self._unread.append(data)
        self._unread_bytes += len(data)
        if self._unread_bytes > TEXT_BATCH:
            self._read_text()

    def _read_text(self) -> None:
        for data in self._unread:
            self._text.extend(slot.text for _, slot in delta_slots(CHAT, orjson.loads(data)))
        self._unread.clear()
        self._unread_bytes = 0

    def _json(self, ev: Event) -> dict[str, Any] | None:
        assert ev.data is not None
        try:
            obj = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) else None

    # -- what each protocol defines ---------------------------------------------------------

    def _relay(self, ev: Event) -> bytes | None:
        """The bytes to pass on for one event; b"" drops it; None marks it malformed."""
        raise NotImplementedError

    def _leftover(self) -> bytes:
        """Text still held back for unmasking, as events of its own, when the stream ends unfinished."""
        raise NotImplementedError

    def _error_event(self, message: str) -> bytes:
        raise NotImplementedError


class StreamRelay(EventRelay):
    """Chat Completions and Completions streams."""

    def __init__(self, strip_usage: bool, unmasker: StreamUnmasker | None = None) -> None:
        super().__init__(unmasker)
        self._strip_usage = strip_usage
        self._template: dict[str, Any] = {}  # the last chunk's id/model, for a closing chunk of held text

    def _error_event(self, message: str) -> bytes:
        return encode_event(error_body(message, "upstream_error", "upstream_stream_error")) + encode_event(DONE)

    def _leftover(self) -> bytes:
        if self._unmasker is None:
            return b""
        chunk = leftover_chunk(self._unmasker, self._template)
        return encode_event(orjson.dumps(chunk)) if chunk else b""

    def _relay(self, ev: Event) -> bytes | None:
        if ev.data is None:
            return ev.raw  # comments and keep-alives
        if ev.data == DONE:
            self.done = True
            return self._leftover() + ev.raw
        self.events += 1
        obj = self._json(ev)
        if obj is None:
            return None
        choices = obj.get("choices")
        if choices:
            # Walking a chunk for its text costs more than parsing it: left to generated_text().
            self._keep_text(ev.data)
        changed = False
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self.tokens_in = int(usage.get("prompt_tokens") or 0)
            self.tokens_out = int(usage.get("completion_tokens") or 0)
            if self._strip_usage:
                if not choices:
                    return b""
                del obj["usage"]
                changed = True
        if self._unmasker is not None and choices:
            self._template = obj
            unmask_chunk(obj, self._unmasker)
            changed = True
        return encode_event(orjson.dumps(obj)) if changed else ev.raw


class _TypedRelay(EventRelay):
    """Streams of JSON events named by their `type` (Responses, Messages); an `error` event from
    the provider is relayed and ends the stream."""

    # Events that carry neither text, usage nor the end, by their `event:` name: with nothing to
    # unmask they pass without being parsed (the lifecycle events repeat the whole response).
    _PASS: frozenset[bytes] = frozenset()

    def _relay(self, ev: Event) -> bytes | None:
        if ev.data is None:
            return ev.raw
        self.events += 1
        if self._unmasker is None and ev.name in self._PASS:
            return ev.raw
        obj = self._json(ev)
        if obj is None:
            return None
        if obj.get("type") == "error":
            self.failed = "the model provider sent an error event"
            return self._leftover() + ev.raw
        self._observe(obj)
        if self._unmasker is None:
            return ev.raw
        return b"".join(_named(e) for e in self._unmask(obj, self._unmasker))

    def _leftover(self) -> bytes:
        if self._unmasker is None:
            return b""
        return b"".join(_named(e) for e in self._held(self._unmasker))

    def _observe(self, event: dict[str, Any]) -> None:
        """Collect text and usage; notice the end."""
        raise NotImplementedError

    def _unmask(self, event: dict[str, Any], unmasker: StreamUnmasker) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _held(self, unmasker: StreamUnmasker) -> list[dict[str, Any]]:
        raise NotImplementedError


_RESPONSES_END = ("response.completed", "response.incomplete", "response.failed")


class ResponsesRelay(_TypedRelay):
    """Responses API streams: typed events, the last one `response.completed` (or `.incomplete`,
    `.failed`) carrying usage."""

    _PASS = frozenset({
        b"response.created", b"response.in_progress", b"response.output_item.added", b"response.output_item.done",
        b"response.content_part.added", b"response.content_part.done", b"response.output_text.done",
        b"response.function_call_arguments.done",
    })  # fmt: skip

    def __init__(self, unmasker: StreamUnmasker | None = None) -> None:
        super().__init__(unmasker)
        self._sequence = 0  # the last sequence number sent
        self._shift = 0  # held text sent as deltas of its own so far: later events move up by as many

    def _error_event(self, message: str) -> bytes:
        body = {"type": "error", "code": "upstream_stream_error", "message": message, "param": None,
                "sequence_number": self._sequence + 1}  # fmt: skip
        return encode_event(orjson.dumps(body), b"error")

    def _observe(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if self._unmasker is None and isinstance(event.get("sequence_number"), int):
            self._sequence = event["sequence_number"]  # relayed as they come; else numbered in _unmask
        self._text.extend(slot.text for _, slot in delta_slots(RESPONSES, event))
        if kind in _RESPONSES_END:
            self.done = True
            usage = (event.get("response") or {}).get("usage")
            if isinstance(usage, dict):
                self.tokens_in = int(usage.get("input_tokens") or 0)
                self.tokens_out = int(usage.get("output_tokens") or 0)

    def _unmask(self, event: dict[str, Any], unmasker: StreamUnmasker) -> list[dict[str, Any]]:
        *held, event = unmask_responses_event(event, unmasker)
        self._insert(held)
        if event.get("delta") == "" and str(event.get("type")).endswith(".delta"):
            self._shift -= 1  # all held back: nothing to send, and the numbers close up
            return held
        if isinstance(event.get("sequence_number"), int):
            self._sequence = event["sequence_number"] = event["sequence_number"] + self._shift
        return [*held, event]

    def _held(self, unmasker: StreamUnmasker) -> list[dict[str, Any]]:
        return self._insert(responses_leftover(unmasker, None))

    def _insert(self, deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Number the deltas tollgate adds (held text) after the last event sent: sequence numbers
        stay strictly increasing, as the API's are."""
        for delta in deltas:
            self._sequence += 1
            self._shift += 1
            delta["sequence_number"] = self._sequence
        return deltas


class MessagesRelay(_TypedRelay):
    """Messages API streams: `message_start` (input usage) … `message_delta` (output usage, cumulative)
    … `message_stop`; `ping` passes."""

    _PASS = frozenset({b"ping", b"content_block_start", b"content_block_stop"})

    def _error_event(self, message: str) -> bytes:
        return encode_event(anthropic_error_body(message, "api_error"), b"error")

    def _observe(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_delta":
            self._text.extend(slot.text for _, slot in delta_slots(MESSAGES, event))
        elif kind == "message_start":
            self._count(event["message"].get("usage"))
        elif kind == "message_delta":
            self._count(event.get("usage"))
        elif kind == "message_stop":
            self.done = True

    def _unmask(self, event: dict[str, Any], unmasker: StreamUnmasker) -> list[dict[str, Any]]:
        events = unmask_messages_event(event, unmasker)
        if event.get("type") == "content_block_delta" and _all_held(event.get("delta")):
            events.pop()  # the unmasker holds all its text back: an empty delta would say nothing
        return events

    def _held(self, unmasker: StreamUnmasker) -> list[dict[str, Any]]:
        return messages_leftover(unmasker)

    def _count(self, usage: Any) -> None:
        """Input tokens include cache writes and reads; output tokens are cumulative per event."""
        if not isinstance(usage, dict):
            return
        if any(isinstance(usage.get(k), int) for k in _ANTHROPIC_INPUT):
            self.tokens_in = sum(int(usage.get(k) or 0) for k in _ANTHROPIC_INPUT)
        if isinstance(usage.get("output_tokens"), int):
            self.tokens_out = usage["output_tokens"]


_ANTHROPIC_INPUT = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _all_held(delta: Any) -> bool:
    """A Messages text or JSON delta left empty by the unmasker's holdback."""
    if not isinstance(delta, dict):
        return False
    spec = MESSAGES_DELTAS.get(str(delta.get("type")))
    return spec is not None and delta.get(spec[0]) == ""


def anthropic_usage(usage: Any) -> tuple[int, int] | None:
    """(input, output) tokens of a Messages reply's usage; input counts cache writes and reads."""
    if not isinstance(usage, dict):
        return None
    return sum(int(usage.get(k) or 0) for k in _ANTHROPIC_INPUT), int(usage.get("output_tokens") or 0)


def _named(event: dict[str, Any]) -> bytes:
    """A Responses or Messages event: its `event:` name is its type."""
    return encode_event(orjson.dumps(event), str(event["type"]).encode())
