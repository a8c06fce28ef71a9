"""The audit event: one per action on either door (DESIGN.md §7). Holds no PII and no secrets.

Callers build events with keyword fields (the first few also positionally); new fields are only
ever added at the end, with defaults, so every emitter keeps working. `version` says which shape
a stored row has; readers of old rows look at it before trusting a field added later.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Surface = Literal["llm", "egress", "admin", "auth", "budget", "config"]
Result = Literal["allowed", "denied", "error"]
SURFACES: tuple[Surface, ...] = ("llm", "egress", "admin", "auth", "budget", "config")
RESULTS: tuple[Result, ...] = ("allowed", "denied", "error")

# 1: the DESIGN.md §7 fields; 2: + event_id and version (dedup on replay).
EVENT_VERSION = 2

# Events no org owns (an unknown token, a config reload) belong to this reserved org. Config org
# ids start with a letter or digit, so it can never collide with a real one.
SYSTEM_ORG = "_system"


@dataclass(slots=True)
class AuditEvent:
    surface: Surface
    action: str
    result: Result
    request_id: str = ""
    org_id: str = ""
    team_id: str = ""
    actor_type: str = "agent"
    actor_id: str = ""
    parent_actor_id: str = ""
    resource: str = ""
    status: int = 0
    latency_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    pii_counts: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)
    # Unique across workers and replicas; given by the pipeline at emit when empty.
    event_id: str = ""
    version: int = EVENT_VERSION

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEvent:
        """An event back from a spool or JSON line; unknown keys (a newer writer) are ignored."""
        return cls(**{k: data[k] for k in _FIELD_NAMES if k in data})


_FIELD_NAMES = tuple(f.name for f in fields(AuditEvent))


class _EventIds:
    """UUID-shaped ids: 64 random bits per process + a 64-bit counter. Unique without a syscall."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # Version-4 and variant bits set, so the id is a valid random UUID as PostgreSQL sees it.
        raw = bytearray(os.urandom(8))
        raw[6] = (raw[6] & 0x0F) | 0x40
        self._prefix = f"{raw[:4].hex()}-{raw[4:6].hex()}-{raw[6:8].hex()}-"
        self._counter = itertools.count(int.from_bytes(os.urandom(2), "big") << 48)

    def __call__(self) -> str:
        n = next(self._counter) & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        h = f"{n:016x}"
        return f"{self._prefix}{h[:4]}-{h[4:]}"


new_event_id = _EventIds()
