"""The streaming relay's core, sans-IO: upstream SSE bytes in, bytes for the client out.

It watches each event for usage and generated text (for accounting), drops the usage chunk
that tollgate asked for on the client's behalf, and ends a broken stream with an OpenAI-style
error event and `[DONE]`, so clients see a clean, explained end instead of a hang.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import error_body
from gateway.sse import Event, SSEError, SSEParser, encode_event
from pii import StreamUnmasker, leftover_chunk, unmask_chunk

DONE = b"[DONE]"


class StreamRelay:
    def __init__(self, strip_usage: bool, unmasker: StreamUnmasker | None = None) -> None:
        self._parser = SSEParser()
        self._strip_usage = strip_usage
        self._unmasker = unmasker
        self._template: dict[str, Any] = {}  # the last chunk's id/model, for a closing chunk of held text
        self.usage: dict[str, Any] | None = None
        # Generated text as the provider sent it, for counting tokens when it reports no usage;
        # only the text is kept (not the events), so a long stream costs little memory.
        self._text: list[str] = []
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
        out = []
        for ev in events:
            try:
                data = self._relay(ev)
            except (TypeError, ValueError, AttributeError):  # valid JSON of an unexpected shape
                data = None
            if data is None:
                return b"".join(out) + self._fail("malformed stream from the model provider")
            out.append(data)
            if self.done:
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
        error = encode_event(error_body(message, "upstream_error", "upstream_stream_error"))
        return self._leftover() + error + encode_event(DONE)

    def _leftover(self) -> bytes:
        """Text still held back for unmasking, as one last chunk, when the stream ends unfinished."""
        if self._unmasker is None:
            return b""
        chunk = leftover_chunk(self._unmasker, self._template)
        return encode_event(orjson.dumps(chunk)) if chunk else b""

    def _relay(self, ev: Event) -> bytes | None:
        """The bytes to pass on for one event; b"" drops it; None marks it malformed."""
        if ev.data is None:
            return ev.raw  # comments and keep-alives
        if ev.data == DONE:
            self.done = True
            return self._leftover() + ev.raw
        self.events += 1
        try:
            obj = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(obj, dict):
            return None
        choices = obj.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                _collect_text(choice, self._text)
        changed = False
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
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

    def generated_text(self) -> str:
        """Everything the provider generated (as it sent it), for counting tokens without usage."""
        return "".join(self._text)


def _collect_text(choice: Any, out: list[str]) -> None:
    if not isinstance(choice, dict):
        return
    delta = choice.get("delta")
    if isinstance(delta, dict):
        if isinstance(delta.get("content"), str):
            out.append(delta["content"])
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                out.append(fn["arguments"])
    elif isinstance(choice.get("text"), str):  # /v1/completions streams
        out.append(choice["text"])
