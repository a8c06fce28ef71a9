"""PII: detection (pattern tier), per-request masking vault, and restoring values in responses,
whole or streamed. The optional NER tier (PERSON, ORGANIZATION, LOCATION; presidio + spaCy in a
process pool) lives in `pii.ner`, imported only when a policy asks for it."""

from pii.detect import TYPES, Span, detect
from pii.mask import (
    MaskingPolicy,
    PiiBlocked,
    PiiFailure,
    agent_pii_policies,
    mask_payload,
    merge_spans,
    policy_from,
)
from pii.unmask import (
    StreamUnmasker,
    holdback,
    leftover_chunk,
    messages_leftover,
    responses_leftover,
    restore_slots,
    unmask_chunk,
    unmask_event,
    unmask_messages_event,
    unmask_reply,
    unmask_responses_event,
)
from pii.vault import PLACEHOLDER_RE, Vault
from pii.walk import Slot, delta_slots, reply_slots, request_items, request_labels, request_slots, whole_slots

__all__ = [
    "PLACEHOLDER_RE",
    "TYPES",
    "MaskingPolicy",
    "PiiBlocked",
    "PiiFailure",
    "Slot",
    "Span",
    "StreamUnmasker",
    "Vault",
    "agent_pii_policies",
    "delta_slots",
    "detect",
    "holdback",
    "leftover_chunk",
    "mask_payload",
    "merge_spans",
    "messages_leftover",
    "policy_from",
    "reply_slots",
    "request_items",
    "request_labels",
    "request_slots",
    "responses_leftover",
    "restore_slots",
    "unmask_chunk",
    "unmask_event",
    "unmask_messages_event",
    "unmask_reply",
    "unmask_responses_event",
    "whole_slots",
]
