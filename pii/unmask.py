"""Restoring masked values in responses: whole replies, and streams chunk by chunk.

In a stream a placeholder may arrive split across chunks (`<EMA` + `IL_1>`). Per choice and per
tool call the unmasker holds back only the longest suffix that could still grow into a
placeholder (at most MAX_PLACEHOLDER characters), passes everything before it on at once, and
flushes what is held when that choice finishes or the stream ends.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from pii.mask import message_blocks
from pii.vault import MAX_PLACEHOLDER, Vault
from pii.walk import Slot, choice_slots, chunk_slots

_PARTIAL = re.compile(r"<(?:[A-Z][A-Z_]{0,19}(?:_[0-9]{0,9})?)?")
# The same inside JSON text, where any character may arrive as `\u00XX` and a delta may end
# inside such an escape (`\u00`): an opening `<`/`\u003c` and what may follow, or a partial `\u003c`.
_PARTIAL_ESCAPED = re.compile(
    r"(?:<|\\u003[cC])(?:[A-Z0-9_]|\\u00[0-9a-fA-F]{2})*(?:\\(?:u(?:0(?:0[0-9a-fA-F]?)?)?)?)?"
    r"|\\(?:u(?:0(?:0(?:3)?)?)?)?"
)
# A placeholder written entirely in escapes is at most six characters per character.
MAX_ESCAPED_PLACEHOLDER = 6 * MAX_PLACEHOLDER


def holdback(text: str, escape: bool = False) -> int:
    """Length of the longest suffix of `text` that could still become a placeholder."""
    if escape and "\\" in text[-MAX_ESCAPED_PLACEHOLDER:]:
        return _holdback_escaped(text)
    i = text.rfind("<", max(0, len(text) - MAX_PLACEHOLDER))
    if i >= 0 and _PARTIAL.fullmatch(text, i):
        return len(text) - i
    return 0


def _holdback_escaped(text: str) -> int:
    start = max(0, len(text) - MAX_ESCAPED_PLACEHOLDER)
    for i in range(start, len(text)):  # the earliest start gives the longest suffix
        if text[i] in "<\\" and _PARTIAL_ESCAPED.fullmatch(text, i):
            return len(text) - i
    return 0


class StreamUnmasker:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._held: dict[Hashable, str] = {}

    def feed(self, key: Hashable, text: str, escape: bool = False) -> str:
        buf = self._held.pop(key, "") + text if self._held else text
        n = holdback(buf, escape)
        if n:
            self._held[key] = buf[-n:]
            buf = buf[:-n]
        return self.vault.restore(buf, escape)

    def flush(self, key: Hashable, escape: bool = False) -> str:
        return self.vault.restore(self._held.pop(key, ""), escape)

    def held_keys(self) -> list[Hashable]:
        return list(self._held)


def unmask_reply(reply: dict[str, Any], vault: Vault) -> None:
    """Restore values in a non-stream chat or completions reply, in place."""
    restore_slots(choice_slots(reply), vault)


def restore_slots(slots: Iterable[Slot], vault: Vault) -> None:
    for slot in slots:
        slot.set(vault.restore(slot.text, slot.json))


def unmask_chunk(chunk: dict[str, Any], unmasker: StreamUnmasker) -> None:
    """Restore values in one streamed chunk, in place; a finishing choice gets its held text."""
    for key, slot in chunk_slots(chunk):
        slot.set(unmasker.feed(key, slot.text, slot.json))
    for choice in chunk.get("choices") or ():
        if not isinstance(choice, dict) or choice.get("finish_reason") is None:
            continue
        i = choice.get("index", 0)
        if isinstance(choice.get("delta"), dict):
            _flush_choice(i, choice["delta"], unmasker)
        elif isinstance(choice.get("text"), str):  # /v1/completions
            choice["text"] += unmasker.flush((i, "text"))


def _flush_choice(i: int, delta: dict[str, Any], unmasker: StreamUnmasker) -> None:
    for key in unmasker.held_keys():
        if not (isinstance(key, tuple) and key[0] == i):
            continue
        if key[1] == "content":
            delta["content"] = (delta.get("content") or "") + unmasker.flush(key)
        elif key[1] == "tool":
            calls = delta.setdefault("tool_calls", [])
            calls.append({"index": key[2], "function": {"arguments": unmasker.flush(key, escape=True)}})
        else:  # "text": a completions stream has no delta; the caller moves it to the choice
            delta["text"] = unmasker.flush(key)


def leftover_chunk(unmasker: StreamUnmasker, template: dict[str, Any]) -> dict[str, Any] | None:
    """A last chunk carrying whatever is still held when the stream ends without finishing."""
    choices: dict[int, dict[str, Any]] = {}
    for key in unmasker.held_keys():
        if isinstance(key, tuple):
            choices.setdefault(key[0], {"index": key[0], "delta": {}, "finish_reason": None})
    if not choices:
        return None
    for i, choice in choices.items():
        _flush_choice(i, choice["delta"], unmasker)
        if "text" in choice["delta"]:
            choice["text"] = choice.pop("delta")["text"]
    return {**{k: template[k] for k in ("id", "object", "created", "model") if k in template},
            "choices": list(choices.values())}  # fmt: skip


# -- the Responses API and the Messages API: reply slots, whole replies, stream events -----------


def responses_output_slots(item: Any) -> Iterator[Slot]:
    """The text slots of one Responses output item."""
    if not isinstance(item, dict):
        return
    kind = item.get("type")
    if kind == "message":
        for part in item.get("content") or ():
            if isinstance(part, dict):
                for key in ("text", "refusal"):
                    if isinstance(part.get(key), str):
                        yield Slot(part, key)
    elif kind == "function_call" and isinstance(item.get("arguments"), str):
        yield Slot(item, "arguments", json=True)
    elif kind == "custom_tool_call" and isinstance(item.get("input"), str):
        yield Slot(item, "input")
    elif kind == "reasoning":
        for part in item.get("summary") or ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield Slot(part, "text")


def reply_slots(endpoint: str, reply: dict[str, Any]) -> Iterator[Slot]:
    """Every text slot of a Responses (`response` object) or Messages (`message`) reply."""
    if endpoint == "/responses":
        for item in reply.get("output") or ():
            yield from responses_output_slots(item)
    else:
        yield from message_blocks(reply.get("content"))


# Responses stream events that carry a piece of text: (the delta's text field is always `delta`)
# event type prefix → (the field of the `.done` event with the whole text, sub-index field, JSON text?)
_RESPONSES_DELTAS: dict[str, tuple[str, str | None, bool]] = {
    "response.output_text": ("text", "content_index", False),
    "response.refusal": ("refusal", "content_index", False),
    "response.function_call_arguments": ("arguments", None, True),
    "response.custom_tool_call_input": ("input", None, False),
    "response.reasoning_summary_text": ("text", "summary_index", False),
}
_RESPONSES_ENDS = ("response.completed", "response.incomplete", "response.failed")


def unmask_responses_event(event: dict[str, Any], unmasker: StreamUnmasker) -> list[dict[str, Any]]:
    """Restore values in one Responses stream event, in place. Returns the events to send: held
    text flushed as a delta of its own goes out just before the `.done` event of its part."""
    kind = event.get("type")
    if not isinstance(kind, str):
        return [event]
    prefix, _, suffix = kind.rpartition(".")
    spec = _RESPONSES_DELTAS.get(prefix)
    if spec is not None:
        full, sub, escape = spec
        key = (prefix, event.get("item_id"), event.get("output_index"), event.get(sub) if sub else None)
        if suffix == "delta" and isinstance(event.get("delta"), str):
            event["delta"] = unmasker.feed(key, event["delta"], escape)
        elif suffix == "done":
            out = _responses_flush([key], unmasker, event.get("sequence_number"))
            if isinstance(event.get(full), str):
                event[full] = unmasker.vault.restore(event[full], escape)
            return [*out, event]
        return [event]
    if kind == "response.output_item.done" or kind == "response.output_item.added":
        restore_slots(responses_output_slots(event.get("item")), unmasker.vault)
    elif kind == "response.content_part.done" or kind == "response.content_part.added":
        part = event.get("part")
        if isinstance(part, dict):
            restore_slots(responses_output_slots({"type": "message", "content": [part]}), unmasker.vault)
    elif kind in _RESPONSES_ENDS:
        out = responses_leftover(unmasker, event.get("sequence_number"))
        response = event.get("response")
        if isinstance(response, dict):
            restore_slots(reply_slots("/responses", response), unmasker.vault)
        return [*out, event]
    return [event]


def _responses_flush(keys: Iterable[Hashable], unmasker: StreamUnmasker, sequence: Any) -> list[dict[str, Any]]:
    out = []
    for key in keys:
        assert isinstance(key, tuple)
        prefix, item_id, output_index, sub_index = key
        _, sub, escape = _RESPONSES_DELTAS[prefix]
        text = unmasker.flush(key, escape)
        if not text:
            continue
        delta: dict[str, Any] = {"type": prefix + ".delta", "item_id": item_id, "output_index": output_index}
        if sub:
            delta[sub] = sub_index
        out.append({**delta, "delta": text, "sequence_number": sequence})
    return out


def responses_leftover(unmasker: StreamUnmasker, sequence: Any) -> list[dict[str, Any]]:
    """Deltas carrying whatever is still held when a Responses stream ends or breaks."""
    return _responses_flush(unmasker.held_keys(), unmasker, sequence)


# Messages stream deltas that carry text: delta type → (its text field, JSON text?)
_MESSAGES_DELTAS = {"text_delta": ("text", False), "input_json_delta": ("partial_json", True),
                    "thinking_delta": ("thinking", False)}  # fmt: skip


def unmask_messages_event(event: dict[str, Any], unmasker: StreamUnmasker) -> list[dict[str, Any]]:
    """Restore values in one Messages stream event, in place. Returns the events to send: held
    text flushed as a delta of its own goes out just before its block's `content_block_stop`."""
    kind = event.get("type")
    if kind == "content_block_delta":
        delta = event.get("delta")
        spec = _MESSAGES_DELTAS.get(str(delta.get("type"))) if isinstance(delta, dict) else None
        if spec is not None and isinstance(delta, dict) and isinstance(delta.get(spec[0]), str):
            field, escape = spec
            delta[field] = unmasker.feed((event.get("index"), delta["type"]), delta[field], escape)
    elif kind == "content_block_stop":
        index = event.get("index")
        held = [k for k in unmasker.held_keys() if isinstance(k, tuple) and k[0] == index]
        return [*_messages_flush(held, unmasker), event]
    elif kind == "content_block_start":
        restore_slots(message_blocks([event.get("content_block")]), unmasker.vault)
    elif kind == "message_start":
        message = event.get("message")
        if isinstance(message, dict):
            restore_slots(reply_slots("/messages", message), unmasker.vault)
    elif kind == "message_delta" or kind == "message_stop":
        return [*messages_leftover(unmasker), event]
    return [event]


def _messages_flush(keys: Iterable[Hashable], unmasker: StreamUnmasker) -> list[dict[str, Any]]:
    out = []
    for key in keys:
        assert isinstance(key, tuple)
        index, kind = key
        field, escape = _MESSAGES_DELTAS[kind]
        text = unmasker.flush(key, escape)
        if text:
            out.append({"type": "content_block_delta", "index": index, "delta": {"type": kind, field: text}})
    return out


def messages_leftover(unmasker: StreamUnmasker) -> list[dict[str, Any]]:
    """Deltas carrying whatever is still held when a Messages stream ends or breaks."""
    return _messages_flush(unmasker.held_keys(), unmasker)
