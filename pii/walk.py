"""Every piece of text in OpenAI request and response JSON, found by one walker.

Masking, unmasking and token counting all read these slots, so a field is handled the same way
everywhere: a message's `name` is counted, masked and restored like its content.

- `request_slots`: chat messages (string content, text parts, `name`, assistant tool-call
  arguments), `/v1/completions` prompts, `/v1/embeddings` inputs, in conversation order (placeholder
  numbers follow first appearance).
- `choice_slots`: a non-stream reply's message contents, tool-call arguments and completion texts.
- `chunk_slots`: the same in one streamed chunk, each with a stream key (choice, field, tool call)
  under which a streaming unmasker holds back a split placeholder.

The Responses and Messages APIs have their own walkers (pii/mask.py, pii/unmask.py) yielding the
same `Slot`s.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Slot:
    container: Any  # the dict or list holding the text
    key: Any
    json: bool = False  # the text is JSON (tool-call arguments): placeholders may come escaped
    name: bool = False  # a message name: providers accept only [A-Za-z0-9_-] there

    @property
    def text(self) -> str:
        return self.container[self.key]

    def set(self, value: str) -> None:
        self.container[self.key] = value


def _str_slot(container: dict[str, Any], key: str, **kind: bool) -> Iterator[Slot]:
    if isinstance(container.get(key), str):
        yield Slot(container, key, **kind)


def _tool_call_slots(calls: Any) -> Iterator[tuple[int, Slot]]:
    for n, call in enumerate(calls if isinstance(calls, list) else ()):
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            yield call.get("index", n), Slot(fn, "arguments", json=True)


def _message_slots(m: dict[str, Any]) -> Iterator[Slot]:
    content = m.get("content")
    if isinstance(content, str):
        yield Slot(m, "content")
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                yield from _str_slot(part, "text")
    yield from _str_slot(m, "name", name=True)
    for _, slot in _tool_call_slots(m.get("tool_calls")):
        yield slot


def request_slots(endpoint: str, payload: dict[str, Any]) -> Iterator[Slot]:
    if endpoint == "/chat/completions":
        for m in payload.get("messages") or ():
            if isinstance(m, dict):
                yield from _message_slots(m)
        return
    key = "prompt" if endpoint == "/completions" else "input"
    value = payload.get(key)
    if isinstance(value, str):
        yield Slot(payload, key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield Slot(value, i)


def choice_slots(reply: dict[str, Any]) -> Iterator[Slot]:
    for choice in reply.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        if isinstance(message, dict):
            yield from _str_slot(message, "content")
            for _, slot in _tool_call_slots(message.get("tool_calls")):
                yield slot
        yield from _str_slot(choice, "text")


def chunk_slots(chunk: dict[str, Any]) -> Iterator[tuple[Hashable, Slot]]:
    """(stream key, slot) per text in one streamed chunk; keys start with the choice index."""
    for choice in chunk.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        i = choice.get("index", 0)
        delta = choice.get("delta")
        if isinstance(delta, dict):
            for slot in _str_slot(delta, "content"):
                yield (i, "content"), slot
            for n, slot in _tool_call_slots(delta.get("tool_calls")):
                yield (i, "tool", n), slot
        else:  # /v1/completions streams carry the text on the choice
            for slot in _str_slot(choice, "text"):
                yield (i, "text"), slot
