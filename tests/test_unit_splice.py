"""egress.splice: the transport-level relay, on real loopback connections."""

from __future__ import annotations

import asyncio

import pytest

from egress.splice import Splice

Pair = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


async def test_bytes_a_reader_already_holds_go_first_then_the_relay_takes_over() -> None:
    accepted: asyncio.Queue[Pair] = asyncio.Queue()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client_r, client_w = await asyncio.open_connection("127.0.0.1", port)
    proxy_client_side = await accepted.get()
    upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", port)
    proxy_upstream_side = await accepted.get()
    try:
        client_w.write(b"AB")  # one segment: the proxy's reader takes both bytes off the socket
        assert await proxy_client_side[0].readexactly(1) == b"A"  # ... and the proxy reads only one
        splice = Splice(proxy_client_side, proxy_upstream_side, max_bytes=1 << 20, idle_timeout_s=5)
        relay = asyncio.ensure_future(splice.run(max_duration_s=5))
        assert await asyncio.wait_for(upstream_r.readexactly(1), 5) == b"B"  # the held byte, first
        client_w.write(b"C")
        assert await asyncio.wait_for(upstream_r.readexactly(1), 5) == b"C"
        upstream_w.write(b"reply")
        assert await asyncio.wait_for(client_r.readexactly(5), 5) == b"reply"
        client_w.close()
        upstream_w.close()
        assert await asyncio.wait_for(relay, 5) == (2, 5)  # B and C one way, the reply the other
    finally:
        server.close()
