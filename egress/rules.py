"""Config → egress policy: each agent's rules, and the per-config-version runtime the door reads.

Pure translation, no sockets, h11 or ssl: `tollgate check-config` validates through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from config import Config
from config.schema import EgressRule, EgressSettings
from egress.credentials import Identity as CredentialIdentity
from egress.credentials import credential_spec
from egress.policy import PolicyError, Rule, RuleSet, render_inject


class Identity(CredentialIdentity, Protocol):
    @property
    def token_hash(self) -> str: ...


def rule_from_config(r: EgressRule) -> Rule:
    return Rule(
        hosts=tuple(r.hosts),
        ports=frozenset(r.ports),
        methods=frozenset(m.upper() for m in r.methods) if r.methods is not None else None,
        paths=tuple(r.paths) if r.paths is not None else ("/**",),
        mode=r.mode,
        allow_private=r.allow_private,
        inject=dict(r.inject),
        name=r.name,
        credential=credential_spec(r.credential) if r.credential is not None else None,
    )


def policies_from_config(config: Config) -> dict[str, RuleSet]:
    """Each agent's policy: the rules of its org, team and itself together. Raises PolicyError."""
    out: dict[str, RuleSet] = {}
    problems: list[tuple[str, str]] = []
    for oi, org in enumerate(config.orgs):
        for ti, team in enumerate(org.teams):
            for ai, agent in enumerate(team.agents):
                rules: list[Rule] = []
                scopes = (
                    (f"orgs[{oi}]", org),
                    (f"orgs[{oi}].teams[{ti}]", team),
                    (f"orgs[{oi}].teams[{ti}].agents[{ai}]", agent),
                )
                for path, scope in scopes:
                    for ri, r in enumerate(scope.egress.rules if scope.egress else ()):
                        try:
                            rule = rule_from_config(r)
                        except PolicyError as e:
                            problems.extend((f"{path}.egress.rules[{ri}].{sub}", msg) for sub, msg in e.problems)
                            continue
                        missing = rule.secrets - config.secrets.keys()
                        if missing:
                            problems.append(
                                (
                                    f"{path}.egress.rules[{ri}].inject",
                                    f"no secret named {sorted(missing)[0]!r} in secrets",
                                )
                            )
                        rules.append(rule)
                try:
                    out[agent.id] = RuleSet(rules)
                except PolicyError as e:
                    where = f"orgs[{oi}].teams[{ti}].agents[{ai}] (org, team and agent rules together)"
                    problems.extend((f"{where}: {sub}", msg) for sub, msg in e.problems)
    if problems:
        raise PolicyError(problems)
    return out


@dataclass(frozen=True)
class EgressRuntime:
    """One config version's view for the egress door; replaced whole on reload."""

    authenticate: Callable[[str | None], Identity | None]
    is_known: Callable[[str], bool]  # is this token hash still valid?
    policies: dict[str, RuleSet]
    secrets: dict[str, str]
    settings: EgressSettings
    # Rendered credential headers per rule: secrets and rules are fixed for a config version.
    _injections: dict[int, list[tuple[bytes, bytes]]] = field(default_factory=dict)

    def policy(self, agent_id: str) -> RuleSet:
        return self.policies.get(agent_id) or RuleSet(())

    def injection(self, rule: Rule) -> list[tuple[bytes, bytes]]:
        """The static credential headers `rule` sets upstream (its `inject` templates, secrets
        filled in). Raises InjectError if a secret is missing or unsafe. Per-request credential
        kinds (`rule.credential`) are applied after this by `egress.credentials.CredentialBroker`."""
        headers = self._injections.get(id(rule))
        if headers is None:
            rendered = render_inject(rule, self.secrets.__getitem__)
            headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in rendered]
            self._injections[id(rule)] = headers
        return headers
