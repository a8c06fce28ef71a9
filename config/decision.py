"""One shape for every yes or no the appliance gives: auth, egress policy, budget and PII.

A decision is a value with a reason on every path, "no rule matched" included (smokescreen's
`ACL.Decide`). It knows nothing of HTTP: each door maps reasons to its own status codes, and
the reason flows unchanged into the error body, the audit row and a metric label, so reasons
are short fixed words (`model_not_allowed`, `team_daily`), never built from request data.

Checks that have more to say extend it (the egress rule that matched, the budget counter that
was exceeded); every one of them is still a `Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


ALLOWED = Decision(True, "allowed")
