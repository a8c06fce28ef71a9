"""The egress door: a default-deny forward proxy (CONNECT and absolute-form http://) with an
SSRF guard, SNI-checked tunnels and TLS interception from an in-memory CA with credential
injection."""

from egress.ca import CertificateAuthority, LeafCache
from egress.hosts import HostError, canonical_host, parse_authority
from egress.policy import Decision, Policy, PolicyError, Rule
from egress.proxy import EgressProxy, EgressRuntime, policies_from_config
from egress.ssrf import pick_address, vet_address

__all__ = [
    "CertificateAuthority",
    "Decision",
    "EgressProxy",
    "EgressRuntime",
    "HostError",
    "LeafCache",
    "Policy",
    "PolicyError",
    "Rule",
    "canonical_host",
    "parse_authority",
    "pick_address",
    "policies_from_config",
    "vet_address",
]
