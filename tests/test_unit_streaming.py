"""gateway.streaming: the register of open streams a reload cuts, what a stream is charged, and
the SSE response whose headers leave with its first chunk (real sockets on loopback)."""

from __future__ import annotations

import asyncio
import socket
import time

import orjson
import pytest
from aiohttp import web

from gateway.accounting import Call
from gateway.payloads import Endpoint
from gateway.relay import StreamRelay
from gateway.streaming import OpenStreams, _EventStream, stream_outcome


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def call() -> Call:
    return Call("req_test", time.perf_counter(), Endpoint.CHAT, prompt_estimate=7)


def chunk(obj: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


async def test_a_reload_cuts_only_the_streams_of_tokens_it_no_longer_knows() -> None:
    streams = OpenStreams()
    tasks = {name: asyncio.get_running_loop().create_task(asyncio.sleep(60)) for name in ("kept", "gone1", "gone2")}
    calls = {name: call() for name in tasks}
    streams.add("keep", (calls["kept"], tasks["kept"]))
    streams.add("revoked", (calls["gone1"], tasks["gone1"]))
    streams.add("revoked", (calls["gone2"], tasks["gone2"]))
    assert streams.cut(lambda token_hash: token_hash == "keep") == 2
    await asyncio.sleep(0)
    assert tasks["gone1"].cancelled() and tasks["gone2"].cancelled() and calls["gone1"].revoked
    assert not tasks["kept"].done() and not calls["kept"].revoked
    assert streams.cut(lambda token_hash: False) == 1  # the revoked ones were forgotten, the kept one is left
    streams.discard("keep", (calls["kept"], tasks["kept"]))  # a stream that ended is gone for good
    assert streams.cut(lambda token_hash: False) == 0


def test_a_stream_is_charged_from_its_usage_event_or_from_what_was_relayed() -> None:
    with_usage = StreamRelay(strip_usage=True)
    with_usage.feed(chunk({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}))
    c = call()
    outcome = stream_outcome(c, with_usage, 200)
    assert (outcome.status, outcome.tokens_in, outcome.tokens_out, outcome.reason) == (200, 5, 2, None)
    cut = StreamRelay(strip_usage=False)
    cut.feed(chunk({"choices": [{"index": 0, "delta": {"content": "hello"}}]}))
    c = call()
    c.revoked = True
    outcome = stream_outcome(c, cut, 200)
    # No route, so nothing to count the text with; the prompt estimate stands in for usage.
    assert (outcome.tokens_in, outcome.tokens_out, outcome.reason) == (7, 0, "revoked")


async def test_sse_headers_leave_with_the_first_chunk() -> None:
    """`_send_headers_immediately` is aiohttp's, not public (pinned: aiohttp==3.14.5): this shows
    it still holds the headers back after prepare(), so an upgrade that drops it fails here."""
    prepared, release = asyncio.Event(), asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = _EventStream(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        prepared.set()
        await release.wait()
        await resp.write(b"data: 1\n\n")
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    loop = asyncio.get_running_loop()
    try:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.setblocking(False)
            await loop.sock_sendall(s, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            await asyncio.wait_for(prepared.wait(), 5)
            with pytest.raises(TimeoutError):  # prepared, and still not a byte on the wire
                await asyncio.wait_for(loop.sock_recv(s, 65536), 0.2)
            release.set()
            data = await asyncio.wait_for(loop.sock_recv(s, 65536), 5)
            assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"data: 1\n\n" in data  # one segment, both
    finally:
        await runner.cleanup()
