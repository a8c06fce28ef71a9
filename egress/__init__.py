"""The egress door (forward proxy, policy, SSRF guard, TLS interception). Not built yet: its
listener is configured (`listeners.egress`) but nothing listens on it until the egress issue lands.
"""

__all__: list[str] = []
