"""Masking a request: find every piece of text it sends, detect, block or replace, fail closed.

All text is masked: every text slot pii/walk.py finds in a request of any endpoint (message
contents of every role, names, tool-call arguments and results, system prompts and instructions,
every string inside tool-call inputs, prompts and embeddings inputs), visited in conversation
order, so placeholder numbers follow first appearance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config.schema import PII_NER_TYPES, PII_PATTERN_TYPES, Config, PiiPolicy
from pii.detect import Span, detect
from pii.vault import Vault, json_unescape
from pii.walk import Slot, json_output, request_slots

Detector = Callable[[str, frozenset[str]], list[Span]]


@dataclass(frozen=True, slots=True)
class MaskingPolicy:
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


def policy_from(cfg: PiiPolicy | None) -> MaskingPolicy:
    cfg = cfg or PiiPolicy()
    default = PII_PATTERN_TYPES + (PII_NER_TYPES if cfg.ner else ())
    types = frozenset(cfg.types if cfg.types is not None else default)
    block = frozenset(t for t, a in cfg.actions.items() if a == "block")
    allow = frozenset(t for t, a in cfg.actions.items() if a == "allow")
    return MaskingPolicy(cfg.enabled, types, block, allow, cfg.ner, cfg.unmask_responses, cfg.fail_closed)


def agent_pii_policies(config: Config) -> dict[str, PiiPolicy]:
    """Each agent's PII settings: the nearest scope that sets any wins (agent, team, org)."""
    return {a.id: a.pii or t.pii or o.pii or PiiPolicy() for o in config.orgs for t in o.teams for a in t.agents}


class PiiBlocked(Exception):
    def __init__(self, types: set[str]) -> None:
        self.types = sorted(types)
        super().__init__(f"the request contains data of a blocked type: {', '.join(self.types)}")


class PiiFailure(Exception):
    """Detection could not be completed; with fail_closed the request must not be sent."""


def mask_payload(
    endpoint: str,
    payload: dict[str, Any],
    policy: MaskingPolicy,
    vault: Vault,
    detector: Detector = detect,
    ner_spans: list[list[Span]] | None = None,
) -> float:
    """Mask the payload in place; returns the pattern tier's time. Raises PiiBlocked or PiiFailure.

    `ner_spans`: the NER tier's findings per text of `request_slots` (computed off the event loop
    by the caller); required when the policy asks for NER.
    """
    vault.json_output = json_output(endpoint, payload)
    slots = list(request_slots(endpoint, payload))
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
            slot.set(_replace(slot, spans, vault))
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


def _replace(slot: Slot, spans: list[Span], vault: Vault) -> str:
    """A message name, where providers accept only [A-Za-z0-9_-], gets the placeholder without its
    delimiters (`PERSON_1`). In JSON text (tool-call arguments) the vault keeps the value as it
    reads, escapes decoded, so it is restored right in any slot (JSON-escaped again where needed)."""
    text = slot.text
    out = []
    pos = 0
    for s in spans:
        out.append(text[pos : s.start])
        value = text[s.start : s.end]
        placeholder = vault.placeholder(s.type, json_unescape(value) if slot.json else value)
        out.append(placeholder[1:-1] if slot.name else placeholder)
        pos = s.end
    out.append(text[pos:])
    return "".join(out)
