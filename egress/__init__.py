"""The egress door: a default-deny forward proxy (CONNECT and absolute-form http://) with an
SSRF guard, SNI-checked tunnels and TLS interception from an in-memory CA with credential
injection.

Config checking needs only the pure parts (`policies_from_config`, `RuleSet`); the proxy and the
CA (h11, ssl, cryptography) are imported when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from egress.hosts import HostError, canonical_host, parse_authority
from egress.policy import PolicyError, Rule, RuleDecision, RuleSet
from egress.rules import EgressRuntime, policies_from_config
from egress.ssrf import pick_address, vet_address
from egress.vet import ForwardPlan, vet_request

if TYPE_CHECKING:
    from egress.ca import CertificateAuthority, LeafCache
    from egress.proxy import EgressProxy
    from egress.rotation import CAChain

_LAZY = {
    "CAChain": "egress.rotation",
    "CertificateAuthority": "egress.ca",
    "LeafCache": "egress.ca",
    "EgressProxy": "egress.proxy",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'egress' has no attribute {name!r}")


__all__ = [
    "CAChain",
    "CertificateAuthority",
    "EgressProxy",
    "EgressRuntime",
    "ForwardPlan",
    "HostError",
    "LeafCache",
    "PolicyError",
    "Rule",
    "RuleDecision",
    "RuleSet",
    "canonical_host",
    "parse_authority",
    "pick_address",
    "policies_from_config",
    "vet_address",
    "vet_request",
]
