"""Who is calling and what may they use: pure decisions over an immutable directory.

Refusals are `Decision`s with a reason (`missing_token`, `invalid_token`, `model_not_found`,
`model_not_allowed`); the doors turn reasons into status codes.

Tokens are looked up by their SHA-256. Timing of the dict lookup can only reveal facts about
a hash of the presented token, never about a stored token, and the final equality check is
`hmac.compare_digest` all the same.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from config import ALLOWED, Config, Decision, hash_token


@dataclass(frozen=True, slots=True)
class Principal:
    agent_id: str
    team_id: str
    org_id: str
    token_hash: str
    models: frozenset[str] | None  # None: every model the appliance serves


MISSING_TOKEN = Decision(False, "missing_token")
INVALID_TOKEN = Decision(False, "invalid_token")
MODEL_NOT_FOUND = Decision(False, "model_not_found")
MODEL_NOT_ALLOWED = Decision(False, "model_not_allowed")


def bearer_token(authorization: str | None, x_api_key: str | None) -> str | None:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if x_api_key:
        return x_api_key.strip() or None
    return None


class Directory:
    """Token hash → principal, built once per config version."""

    def __init__(self, config: Config) -> None:
        self._by_hash: dict[str, Principal] = {}
        for org in config.orgs:
            for team in org.teams:
                for agent in team.agents:
                    models = _narrow(_narrow(_allow(org.models), _allow(team.models)), _allow(agent.models))
                    for h in agent.tokens:
                        self._by_hash[h] = Principal(agent.id, team.id, org.id, h, models)

    def authenticate(self, token: str | None) -> Principal | None:
        if not token:
            return None
        presented = hash_token(token)
        principal = self._by_hash.get(presented)
        if principal is None or not hmac.compare_digest(principal.token_hash, presented):
            return None
        return principal

    def __contains__(self, token_hash: str) -> bool:
        return token_hash in self._by_hash


def _allow(models: list[str] | None) -> frozenset[str] | None:
    return None if models is None or "*" in models else frozenset(models)


def _narrow(outer: frozenset[str] | None, inner: frozenset[str] | None) -> frozenset[str] | None:
    """A team or agent list narrows what its parent allows; it can never widen it."""
    if outer is None:
        return inner
    return outer if inner is None else outer & inner


def authenticate(directory: Directory, authorization: str | None, x_api_key: str | None) -> Principal | Decision:
    """The principal behind the request's credentials, or why there is none."""
    token = bearer_token(authorization, x_api_key)
    principal = directory.authenticate(token)
    if principal is not None:
        return principal
    return MISSING_TOKEN if token is None else INVALID_TOKEN


def model_decision(principal: Principal, model: str, served: bool) -> Decision:
    if not served:
        return MODEL_NOT_FOUND
    if principal.models is not None and model not in principal.models:
        return MODEL_NOT_ALLOWED
    return ALLOWED
