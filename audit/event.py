"""The audit event: one per action on either door (DESIGN.md §7). Holds no PII and no secrets."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

Surface = Literal["llm", "egress", "admin", "auth", "budget", "config"]
Result = Literal["allowed", "denied", "error"]


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
