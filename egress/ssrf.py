"""SSRF guard: is a resolved address one the proxy may dial (DESIGN §6)?

The proxy resolves DNS itself, vets EVERY address of the answer (`pick_address`) and dials the
vetted one, so a name cannot resolve to a public address for the check and a private one for the
dial (DNS rebinding), nor hide a private address among public ones.

Refusals come in two kinds:

- liftable (`allow_private=True`, set by a rule that names an internal host, and by tests):
  loopback, RFC 1918 private, CGNAT shared space, link-local, IPv6 ULA and site-local;
- never lifted: unspecified and "this network" (Linux dials 0.0.0.0 as the local host), multicast,
  broadcast, reserved and IETF-protocol space, documentation and benchmarking nets, cloud metadata
  endpoints, Teredo, anything outside IPv6 global unicast, and the proxy's own listeners (a loop
  through the proxy, or a way round the network ACLs that protect its admin port).

Addresses with an IPv4 address inside (IPv4-mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4
`2002::/16`) are judged by that IPv4 address, with the carrier in the reason (`nat64:private`).
The table is explicit rather than `ipaddress.is_global`, whose ranges change between Python
releases; `is_global` is only the final backstop.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable

from config.decision import Decision

__all__ = ["IP", "OwnEntry", "pick_address", "vet_address"]

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
# An own listener: an address (every port refused) or (address, port); a wildcard address
# (0.0.0.0, ::) in a pair stands for loopback on that port — the shell adds the host's
# interface addresses itself, as only it can list them.
OwnEntry = str | IP | tuple[str | IP, int]


# A vetted address's reason is "ok", a refused one's a bounded word (see _V4 / _V6 below).
_OK = Decision(True, "ok")

# (network, reason, liftable by allow_private); first match wins, so specific entries go first.
# Metadata: AWS/GCP/Azure/OCI/DigitalOcean IMDS 169.254.169.254, AWS ECS 169.254.170.2,
# EKS Pod Identity 169.254.170.23, Alibaba 100.100.100.200, AWS IMDS/EKS over IPv6 fd00:ec2::.
_V4: tuple[tuple[ipaddress.IPv4Network, str, bool], ...] = tuple(
    (ipaddress.IPv4Network(net), reason, lift)
    for net, reason, lift in (
        ("0.0.0.0/32", "unspecified", False),
        ("169.254.169.254/32", "metadata", False),
        ("169.254.170.2/32", "metadata", False),
        ("169.254.170.23/32", "metadata", False),
        ("100.100.100.200/32", "metadata", False),
        ("255.255.255.255/32", "broadcast", False),
        ("0.0.0.0/8", "this_network", False),  # RFC 1122 §3.2.1.3
        ("10.0.0.0/8", "private", True),  # RFC 1918
        ("172.16.0.0/12", "private", True),
        ("192.168.0.0/16", "private", True),
        ("100.64.0.0/10", "cgnat", True),  # RFC 6598
        ("127.0.0.0/8", "loopback", True),
        ("169.254.0.0/16", "link_local", True),  # RFC 3927
        ("192.0.0.0/24", "ietf_protocol", False),  # RFC 6890
        ("192.0.2.0/24", "documentation", False),  # RFC 5737
        ("198.51.100.0/24", "documentation", False),
        ("203.0.113.0/24", "documentation", False),
        ("198.18.0.0/15", "benchmarking", False),  # RFC 2544
        ("192.88.99.0/24", "reserved", False),  # 6to4 relay anycast, RFC 7526
        ("224.0.0.0/4", "multicast", False),
        ("240.0.0.0/4", "reserved", False),  # RFC 1112
    )
)

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V6: tuple[tuple[ipaddress.IPv6Network, str, bool], ...] = tuple(
    (ipaddress.IPv6Network(net), reason, lift)
    for net, reason, lift in (
        ("::/128", "unspecified", False),
        ("::1/128", "loopback", True),
        ("fd00:ec2::254/128", "metadata", False),
        ("fd00:ec2::23/128", "metadata", False),
        ("fe80::/10", "link_local", True),
        ("fec0::/10", "site_local", True),  # deprecated by RFC 3879, still routable inside sites
        ("fc00::/7", "ula", True),  # RFC 4193
        ("ff00::/8", "multicast", False),
        ("64:ff9b:1::/48", "nat64_local", False),  # RFC 8215: local translators, no fixed v4 position
        ("2001::/32", "teredo", False),  # RFC 4380: client address obfuscated, tunnels anywhere
        ("2001:2::/48", "benchmarking", False),  # RFC 5180
        ("2001::/23", "ietf_protocol", False),  # RFC 2928
        ("2001:db8::/32", "documentation", False),  # RFC 3849
        ("3fff::/20", "documentation", False),  # RFC 9637
        ("100::/64", "reserved", False),  # discard-only, RFC 6666
    )
)


def _as_ip(value: str | IP) -> IP:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    return ipaddress.ip_address(value.strip("[]"))


def _classify(ip: IP) -> tuple[str, bool] | None:
    """(reason, liftable) for a refused address, None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped
        carrier = "mapped"
        if inner is None and ip in _NAT64:
            inner, carrier = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "nat64"
        if inner is None:
            inner, carrier = ip.sixtofour, "6to4"
        if inner is not None:
            found = _classify(inner)
            return None if found is None else (f"{carrier}:{found[0]}", found[1])
        for net6, reason, lift in _V6:
            if ip in net6:
                return reason, lift
        if ip not in _GLOBAL_UNICAST or not ip.is_global:
            return "reserved", False
        return None
    for net, reason, lift in _V4:
        if ip in net:
            return reason, lift
    if not ip.is_global:
        return "reserved", False
    return None


def _is_own(ip: IP, own: Collection[OwnEntry], port: int | None) -> bool:
    for entry in own:
        if isinstance(entry, tuple):
            addr, own_port = _as_ip(entry[0]), entry[1]
            if port is not None and port != own_port:
                continue
            if addr.is_unspecified:  # a dual-stack "::" listener takes IPv4 too
                if ip.is_loopback:
                    return True
                continue
        else:
            addr = _as_ip(entry)
        if addr == ip:
            return True
    return False


def vet_address(ip: str | IP, allow_private: bool, own: Collection[OwnEntry] = (), port: int | None = None) -> Decision:
    """May the proxy dial `ip` (and `port`, when given, for own-listener checks)?"""
    try:
        addr = _as_ip(ip)
    except ValueError:
        return Decision(False, "bad_address")
    found = _classify(addr)
    if found is not None and not (found[1] and allow_private):
        return Decision(False, found[0])
    if own:
        inner = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
        if _is_own(addr, own, port) or (inner is not None and _is_own(inner, own, port)):
            return Decision(False, "own_address")
    return _OK


def pick_address(
    infos: Iterable[str | IP], allow_private: bool, own: Collection[OwnEntry] = (), port: int | None = None
) -> tuple[IP | None, str]:
    """Vet every resolved address; the first one to dial, or (None, reason) if ANY is refused.

    One bad address refuses the whole answer: a name that resolves to a public and a private
    address is either misconfigured or a rebinding attempt, and happy-eyeballs fallbacks in a
    client would otherwise reach the private one.
    """
    chosen: IP | None = None
    for info in infos:
        verdict = vet_address(info, allow_private, own, port)
        if not verdict.allowed:
            return None, verdict.reason
        if chosen is None:
            chosen = _as_ip(info)
    return (chosen, "ok") if chosen is not None else (None, "no_address")
