"""Masking a request: find every piece of text it sends, detect, block or replace, fail closed.

All text is masked: message contents (strings and text parts) of every role, including system
prompts and tool results, message names, assistant tool-call arguments (pii/walk.py finds them
for Chat Completions), `/v1/completions` prompts and
embeddings inputs; on the Responses and Messages APIs, instructions/system, every input item or
content block that carries text, and every string inside tool-call inputs. Texts are visited
in conversation order, so placeholder numbers follow first appearance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from config.schema import PII_NER_TYPES, PII_PATTERN_TYPES, Config, PiiPolicy
from pii.detect import Span, detect
from pii.vault import Vault
from pii.walk import Slot, request_slots

Detector = Callable[[str, frozenset[str]], list[Span]]


@dataclass(frozen=True, slots=True)
class Policy:
    enabled: bool
    types: frozenset[str]
    block: frozenset[str]
    allow: frozenset[str]
    ner: bool
    unmask_responses: bool
    fail_closed: bool

    @property
    def detect_types(self) -> frozenset[str]:
        """The types worth looking for: masked or blocked ones."""
        return self.types - self.allow


def policy_from(cfg: PiiPolicy | None) -> Policy:
    cfg = cfg or PiiPolicy()
    default = PII_PATTERN_TYPES + (PII_NER_TYPES if cfg.ner else ())
    types = frozenset(cfg.types if cfg.types is not None else default)
    block = frozenset(t for t, a in cfg.actions.items() if a == "block")
    allow = frozenset(t for t, a in cfg.actions.items() if a == "allow")
    return Policy(cfg.enabled, types, block, allow, cfg.ner, cfg.unmask_responses, cfg.fail_closed)


def agent_pii_policies(config: Config) -> dict[str, PiiPolicy]:
    """Each agent's PII settings: the nearest scope that sets any wins (agent, team, org)."""
    return {a.id: a.pii or t.pii or o.pii or PiiPolicy() for o in config.orgs for t in o.teams for a in t.agents}


class PiiBlocked(Exception):
    def __init__(self, types: set[str]) -> None:
        self.types = sorted(types)
        super().__init__(f"the request contains data of a blocked type: {', '.join(self.types)}")


class PiiFailure(Exception):
    """Detection could not be completed; with fail_closed the request must not be sent."""


def text_slots(endpoint: str, payload: dict[str, Any]) -> Iterator[Slot]:
    walker = PROTOCOL_WALKERS.get(endpoint)
    if walker is not None:
        yield from walker(payload)
        return
    yield from request_slots(endpoint, payload)


# -- the Responses API and the Messages API: every text slot of a request, in conversation order --


def _text_parts(parts: Any) -> Iterator[Slot]:
    """The `text` of each part in a list of parts (other parts, e.g. images, carry no text)."""
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            yield Slot(part, "text")


def _text_or_parts(container: dict[str, Any], key: str, parts: Callable[[Any], Iterator[Slot]]) -> Iterator[Slot]:
    """`container[key]` when it is a string, else the slots `parts` finds in it."""
    if isinstance(container.get(key), str):
        yield Slot(container, key)
    else:
        yield from parts(container.get(key))


def json_leaves(value: Any) -> Iterator[Slot]:
    """Every string inside a JSON value (a tool call's `input` object), keys excepted."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(item, str):
            yield Slot(value, key)
        elif isinstance(item, dict | list):
            yield from json_leaves(item)


def responses_slots(payload: dict[str, Any]) -> Iterator[Slot]:
    """`instructions`, then `input`: a string, or items (messages with text parts, function and
    custom tool calls with their arguments and outputs, reasoning summaries)."""
    if isinstance(payload.get("instructions"), str):
        yield Slot(payload, "instructions")
    items = payload.get("input")
    if isinstance(items, str):
        yield Slot(payload, "input")
        return
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            yield from _text_or_parts(item, "content", _text_parts)
        elif kind == "function_call" and isinstance(item.get("arguments"), str):
            yield Slot(item, "arguments", json=True)
        elif kind == "custom_tool_call" and isinstance(item.get("input"), str):
            yield Slot(item, "input")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            yield from _text_or_parts(item, "output", _text_parts)
        elif kind == "reasoning":
            yield from _text_parts(item.get("summary"))


def messages_slots(payload: dict[str, Any]) -> Iterator[Slot]:
    """`system`, then each message: text, tool_use inputs (every string in them), tool_result
    contents, thinking, plain-text documents."""
    yield from _text_or_parts(payload, "system", _text_parts)
    for m in payload.get("messages") or ():
        if isinstance(m, dict):
            yield from _text_or_parts(m, "content", message_blocks)


def message_blocks(blocks: Any) -> Iterator[Slot]:
    """The text slots of Messages API content blocks (requests and replies have the same shape)."""
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            yield Slot(block, "text")
        elif kind == "tool_use":
            yield from json_leaves(block.get("input"))
        elif kind == "tool_result":
            yield from _text_or_parts(block, "content", message_blocks)
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            yield Slot(block, "thinking")
        elif kind == "document":
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "text" and isinstance(source.get("data"), str):
                yield Slot(source, "data")


PROTOCOL_WALKERS = {"/responses": responses_slots, "/messages": messages_slots}


def mask_payload(
    endpoint: str,
    payload: dict[str, Any],
    policy: Policy,
    vault: Vault,
    detector: Detector = detect,
    ner_spans: list[list[Span]] | None = None,
) -> float:
    """Mask the payload in place; returns the pattern tier's time. Raises PiiBlocked or PiiFailure.

    `ner_spans`: the NER tier's findings per text of `text_slots` (computed off the event loop by
    the caller); required when the policy asks for NER.
    """
    slots = list(text_slots(endpoint, payload))
    for slot in slots:
        vault.reserve_literals(slot.text)
    if policy.ner and (ner_spans is None or len(ner_spans) != len(slots)):
        raise PiiFailure("the NER tier is not available")
    types = policy.detect_types & frozenset(PII_PATTERN_TYPES)
    started = time.perf_counter()
    try:
        found = [(slot, detector(slot.text, types)) for slot in slots]
    except Exception as e:  # any detector fault is a detection failure, never a pass
        raise PiiFailure(f"detection failed: {e.__class__.__name__}") from None
    elapsed = time.perf_counter() - started
    if ner_spans is not None:
        wanted = policy.detect_types & frozenset(PII_NER_TYPES)
        found = [(slot, merge_spans(spans, [s for s in extra if s.type in wanted])) for (slot, spans), extra in
                 zip(found, ner_spans, strict=True)]  # fmt: skip
    blocked = {s.type for _, spans in found for s in spans if s.type in policy.block}
    if blocked:
        raise PiiBlocked(blocked)
    for slot, spans in found:
        if spans:
            slot.set(_replace(slot.text, spans, vault, slot.name))
    return elapsed


def merge_spans(patterns: list[Span], ner: list[Span]) -> list[Span]:
    """Validated pattern spans win; a NER span survives only where no pattern span lies."""
    if not ner:
        return patterns
    kept = [n for n in ner if not any(p.start < n.end and n.start < p.end for p in patterns)]
    merged = sorted(patterns + kept, key=lambda s: s.start)
    out: list[Span] = []
    for span in merged:  # NER spans may overlap each other: keep the first, then the longest
        if out and span.start < out[-1].end:
            if span.end - span.start > out[-1].end - out[-1].start:
                out[-1] = span
            continue
        out.append(span)
    return out


def _replace(text: str, spans: list[Span], vault: Vault, name: bool = False) -> str:
    """`name`: a message name, where providers accept only [A-Za-z0-9_-]: the placeholder goes
    without its delimiters (`PERSON_1`)."""
    out = []
    pos = 0
    for s in spans:
        out.append(text[pos : s.start])
        placeholder = vault.placeholder(s.type, text[s.start : s.end])
        out.append(placeholder[1:-1] if name else placeholder)
        pos = s.end
    out.append(text[pos:])
    return "".join(out)
