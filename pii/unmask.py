"""Restoring masked values in responses: whole replies, and streams chunk by chunk.

In a stream a placeholder may arrive split across chunks (`<EMA` + `IL_1>`). Per choice and per
tool call the unmasker holds back only the longest suffix that could still grow into a
placeholder (at most MAX_PLACEHOLDER characters), passes everything before it on at once, and
flushes what is held when that choice finishes or the stream ends.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from typing import Any

from pii.vault import MAX_DEPTH, MAX_PLACEHOLDER, Vault
from pii.walk import (
    CHAT,
    MESSAGES,
    MESSAGES_DELTAS,
    RESPONSES,
    RESPONSES_DELTAS,
    RESPONSES_ENDS,
    Slot,
    delta_slots,
    reply_slots,
    responses_key,
    whole_slots,
)

_PARTIAL = re.compile(r"<(?:[A-Z][A-Z_]{0,19}(?:_[0-9]{0,9})?)?")
# The same inside JSON text, where any character may arrive as `\u00XX` (its backslash doubled per
# level of nested JSON) and a delta may end inside such an escape (`\u00`): an opening `<`/`\u003c`
# and what may follow, or a partial `\u003c`.
_PARTIAL_ESCAPED = re.compile(
    r"(?:<|\\+u003[cC])(?:[A-Z0-9_]|\\+u00[0-9a-fA-F]{2})*(?:\\+(?:u(?:0(?:0[0-9a-fA-F]?)?)?)?)?"
    r"|\\+(?:u(?:0(?:0(?:3)?)?)?)?"
)
# A placeholder written entirely in escapes, MAX_DEPTH levels deep, is at most nine characters per
# character.
MAX_ESCAPED_PLACEHOLDER = (5 + 2 ** (MAX_DEPTH - 1)) * MAX_PLACEHOLDER


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
            # A run of backslashes is held whole (its length is its meaning), within reason.
            while i > 0 and text[i - 1] == "\\" and len(text) - i < 2 * MAX_ESCAPED_PLACEHOLDER:
                i -= 1
            return len(text) - i
    return 0


class StreamUnmasker:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._held: dict[Hashable, tuple[str, bool]] = {}  # key → (held text, is JSON text)

    def feed(self, key: Hashable, text: str, escape: bool = False) -> str:
        held = self._held.pop(key, None) if self._held else None
        buf = held[0] + text if held else text
        n = holdback(buf, escape)
        if n:
            self._held[key] = (buf[-n:], escape)
            buf = buf[:-n]
        return self.vault.restore(buf, escape)

    def flush(self, key: Hashable) -> str:
        text, escape = self._held.pop(key, ("", False))
        return self.vault.restore(text, escape)

    def held_keys(self) -> list[Hashable]:
        return list(self._held)


def restore_slots(slots: Iterable[Slot], vault: Vault) -> None:
    for slot in slots:
        slot.set(vault.restore(slot.text, slot.json))


def unmask_reply(endpoint: str, reply: dict[str, Any], vault: Vault) -> None:
    """Restore values in a non-stream reply of any endpoint, in place."""
    restore_slots(reply_slots(endpoint, reply, vault.json_output), vault)


def unmask_event(endpoint: str, event: dict[str, Any], unmasker: StreamUnmasker) -> None:
    """Restore values in one stream event, in place: streamed pieces through the holdback, whole
    texts the event repeats at once."""
    _feed_deltas(endpoint, event, unmasker)
    restore_slots(whole_slots(endpoint, event, unmasker.vault.json_output), unmasker.vault)


def _feed_deltas(endpoint: str, event: dict[str, Any], unmasker: StreamUnmasker) -> None:
    for key, slot in delta_slots(endpoint, event, unmasker.vault.json_output):
        slot.set(unmasker.feed(key, slot.text, slot.json))


# -- Chat Completions and Completions: held text goes out in the chunk that finishes its choice --


def unmask_chunk(chunk: dict[str, Any], unmasker: StreamUnmasker) -> None:
    """Restore values in one streamed chunk, in place; a finishing choice gets its held text."""
    _feed_deltas(CHAT, chunk, unmasker)  # chunks repeat no whole texts
    if not unmasker.held_keys():
        return
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
        field = key[1]
        if field == "tool":
            calls = delta.setdefault("tool_calls", [])
            calls.append({"index": key[2], "function": {"arguments": unmasker.flush(key)}})
        elif field == "function_call":
            call = delta.setdefault("function_call", {})
            call["arguments"] = (call.get("arguments") or "") + unmasker.flush(key)
        else:  # content, refusal; "text": a completions stream has no delta, the caller moves it
            delta[field] = (delta.get(field) or "") + unmasker.flush(key)


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


# -- the Responses API: held text goes out as a delta of its own just before its `.done` event ----


def unmask_responses_event(event: dict[str, Any], unmasker: StreamUnmasker) -> list[dict[str, Any]]:
    """Restore values in one Responses stream event, in place. Returns the events to send."""
    found = responses_key(event)
    out: list[dict[str, Any]] = []
    if found is not None and found[0] == "done":
        out = _responses_flush([found[1]], unmasker, event.get("sequence_number"))
    elif event.get("type") in RESPONSES_ENDS:
        out = responses_leftover(unmasker, event.get("sequence_number"))
    unmask_event(RESPONSES, event, unmasker)
    return [*out, event]


def _responses_flush(keys: Iterable[Hashable], unmasker: StreamUnmasker, sequence: Any) -> list[dict[str, Any]]:
    out = []
    for key in keys:
        assert isinstance(key, tuple)
        prefix, item_id, output_index, sub_index = key
        text = unmasker.flush(key)
        if not text:
            continue
        delta: dict[str, Any] = {"type": prefix + ".delta", "item_id": item_id, "output_index": output_index}
        sub = RESPONSES_DELTAS[prefix][1]
        if sub:
            delta[sub] = sub_index
        out.append({**delta, "delta": text, "sequence_number": sequence})
    return out


def responses_leftover(unmasker: StreamUnmasker, sequence: Any) -> list[dict[str, Any]]:
    """Deltas carrying whatever is still held when a Responses stream ends or breaks."""
    return _responses_flush(unmasker.held_keys(), unmasker, sequence)


# -- the Messages API: held text goes out as a delta of its own just before `content_block_stop` --


def unmask_messages_event(event: dict[str, Any], unmasker: StreamUnmasker) -> list[dict[str, Any]]:
    """Restore values in one Messages stream event, in place. Returns the events to send."""
    kind = event.get("type")
    out: list[dict[str, Any]] = []
    if kind == "content_block_stop":
        index = event.get("index")
        out = _messages_flush([k for k in unmasker.held_keys() if isinstance(k, tuple) and k[0] == index], unmasker)
    elif kind == "message_delta" or kind == "message_stop":
        out = messages_leftover(unmasker)
    unmask_event(MESSAGES, event, unmasker)
    return [*out, event]


def _messages_flush(keys: Iterable[Hashable], unmasker: StreamUnmasker) -> list[dict[str, Any]]:
    out = []
    for key in keys:
        assert isinstance(key, tuple)
        index, kind = key
        text = unmasker.flush(key)
        if text:
            field = MESSAGES_DELTAS[kind][0]
            out.append({"type": "content_block_delta", "index": index, "delta": {"type": kind, field: text}})
    return out


def messages_leftover(unmasker: StreamUnmasker) -> list[dict[str, Any]]:
    """Deltas carrying whatever is still held when a Messages stream ends or breaks."""
    return _messages_flush(unmasker.held_keys(), unmasker)
