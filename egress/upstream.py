"""Upstream connections: dialing a vetted address, and the idle pool.

Pooled per (agent, host, port) only: a connection never carries two identities' requests.
Idle connections expire (`upstream_idle_s`, `upstream_max_age_s`): origins close idle
keep-alive connections on their own timers, and a request sent on one they already dropped
gets no answer; the request loop retries such a request once (see `egress.intercept`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import h11

from config.schema import EgressSettings
from egress.http1 import MAX_HEAD, ProxyError
from egress.ssrf import OwnEntry, pick_address

PoolKey = tuple[str, str, int]


@dataclass(eq=False, slots=True)
class Upstream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    created: float = field(default_factory=time.monotonic)
    idle_since: float = 0.0
    # The connection's h11 state machine, carried from request to request (a new one per request
    # costs about as much as parsing a response head).
    http: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD))

    def next_cycle(self) -> h11.Connection:
        """The state machine, ready for a request: fresh, or reset after a finished exchange."""
        if self.http.our_state is h11.DONE:
            self.http.start_next_cycle()
        return self.http

    def abort(self) -> None:
        """Drop at once: no TLS close_notify exchange with an origin we are done with."""
        self.writer.transport.abort()


class UpstreamPool:
    def __init__(self, settings: EgressSettings, per_key: int = 64) -> None:
        self._idle: dict[PoolKey, list[Upstream]] = {}
        self.settings = settings
        self.per_key = per_key

    def get(self, key: PoolKey) -> Upstream | None:
        conns = self._idle.get(key)
        now = time.monotonic()
        while conns:
            conn = conns.pop()
            if (
                now - conn.idle_since < self.settings.upstream_idle_s
                and now - conn.created < self.settings.upstream_max_age_s
                and not conn.writer.is_closing()
                and not conn.reader.at_eof()
            ):
                return conn
            conn.abort()
        return None

    def put(self, key: PoolKey, conn: Upstream) -> None:
        conns = self._idle.setdefault(key, [])
        if len(conns) < self.per_key:
            conn.idle_since = time.monotonic()
            conns.append(conn)
        else:
            conn.abort()

    def drop_agent(self, agent_id: str) -> None:
        for key in [k for k in self._idle if k[0] == agent_id]:
            for conn in self._idle.pop(key):
                conn.abort()

    def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.abort()
        self._idle.clear()


def upstream_context(settings: EgressSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=settings.upstream_ca_bundle)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class Dialer:
    """Resolve (or use `settings.resolve`), vet every address (SSRF), connect to the vetted one."""

    def __init__(self, settings: EgressSettings, own: Sequence[OwnEntry], tls: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.own = own
        self.tls = tls or upstream_context(settings)

    async def dial(self, host: str, port: int, allow_private: bool, tls: bool) -> Upstream:
        loop = asyncio.get_running_loop()
        timeout = self.settings.connect_timeout_s
        addresses = self.settings.resolve.get(host)
        if addresses is None:
            try:
                infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
            except (OSError, TimeoutError):
                raise ProxyError(502, "dns_failure", f"cannot resolve {host}") from None
            addresses = [str(info[4][0]) for info in infos]
        ip, reason = pick_address(addresses, allow_private, self.own, port)
        if ip is None:
            raise ProxyError(403, f"address_refused:{reason}", f"{host} resolves to a refused address ({reason})")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    str(ip), port, ssl=self.tls if tls else None, server_hostname=host if tls else None
                ),
                timeout,
            )
        except ssl.SSLCertVerificationError:
            raise ProxyError(502, "upstream_tls_verify_failed", f"the certificate of {host} did not verify") from None
        except (OSError, TimeoutError, ssl.SSLError):
            raise ProxyError(502, "upstream_unreachable", f"cannot connect to {host}:{port}") from None
        return Upstream(reader, writer)
