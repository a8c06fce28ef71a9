"""Restoring masked values in responses: whole replies, and streams chunk by chunk.

In a stream a placeholder may arrive split across chunks (`<EMA` + `IL_1>`). Per choice and per
tool call the unmasker holds back only the longest suffix that could still grow into a
placeholder (at most MAX_PLACEHOLDER characters), passes everything before it on at once, and
flushes what is held when that choice finishes or the stream ends.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

from pii.vault import MAX_PLACEHOLDER, Vault

_PARTIAL = re.compile(r"<(?:[A-Z][A-Z_]{0,19}(?:_[0-9]{0,9})?)?")


def holdback(text: str) -> int:
    """Length of the longest suffix of `text` that could still become a placeholder."""
    i = text.rfind("<", max(0, len(text) - MAX_PLACEHOLDER))
    if i >= 0 and _PARTIAL.fullmatch(text, i):
        return len(text) - i
    return 0


class StreamUnmasker:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._held: dict[Hashable, str] = {}

    def feed(self, key: Hashable, text: str, escape: bool = False) -> str:
        buf = self._held.pop(key, "") + text if self._held else text
        n = holdback(buf)
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
    for choice in reply.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        if isinstance(message, dict):
            if isinstance(message.get("content"), str):
                message["content"] = vault.restore(message["content"])
            calls = message.get("tool_calls")
            for call in calls if isinstance(calls, list) else ():
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                    fn["arguments"] = vault.restore(fn["arguments"], escape=True)
        if isinstance(choice.get("text"), str):
            choice["text"] = vault.restore(choice["text"])


def unmask_chunk(chunk: dict[str, Any], unmasker: StreamUnmasker) -> None:
    """Restore values in one streamed chunk, in place; a finishing choice gets its held text."""
    for choice in chunk.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        i = choice.get("index", 0)
        finishing = choice.get("finish_reason") is not None
        delta = choice.get("delta")
        if isinstance(delta, dict):
            content = delta.get("content")
            if isinstance(content, str):
                delta["content"] = unmasker.feed((i, "content"), content)
            calls = delta.get("tool_calls")
            for call in calls if isinstance(calls, list) else ():
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                    fn["arguments"] = unmasker.feed((i, "tool", call.get("index", 0)), fn["arguments"], escape=True)
            if finishing:
                _flush_choice(i, delta, unmasker)
        elif isinstance(choice.get("text"), str):  # /v1/completions
            text = unmasker.feed((i, "text"), choice["text"])
            choice["text"] = text + unmasker.flush((i, "text")) if finishing else text


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
