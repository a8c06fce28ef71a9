"""egress.intercept.relayed_response: the fast-built response head equals h11's public path, byte for byte."""

from __future__ import annotations

import asyncio

import h11
import pytest

from egress.http1 import Watchdog
from egress.intercept import relayed_response
from egress.vet import HOP_BY_HOP

REQUEST = b"GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n"
RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nX-Mixed-Case: A b\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nUpgrade: h2c\r\n\r\n",
    b"HTTP/1.1 204 \r\nTrailer: x\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close",
]


def _head(data: bytes) -> h11.Response:
    up = h11.Connection(h11.CLIENT)
    up.send(h11.Request(method=b"GET", target=b"/x", headers=[(b"host", b"api.test")]))
    up.send(h11.EndOfMessage())
    up.receive_data(data)
    event = up.next_event()
    assert isinstance(event, h11.Response)
    return event


def _server(keep_alive: bool) -> h11.Connection:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(REQUEST if keep_alive else REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert isinstance(conn.next_event(), h11.Request)
    return conn


@pytest.mark.parametrize("keep_alive", [True, False])
@pytest.mark.parametrize("data", RESPONSES)
def test_relayed_head_is_the_public_constructors(data: bytes, keep_alive: bool) -> None:
    response = _head(data)
    public = [(n, v) for n, v in response.headers if n not in HOP_BY_HOP] + [(b"x-request-id", b"rid1")]
    expected = _server(keep_alive).send(
        h11.Response(status_code=response.status_code, headers=public, reason=response.reason)
    )
    assert _server(keep_alive).send(relayed_response(response, "rid1")) == expected


async def test_watchdog_times_out_and_leaves_the_task_uncancelled() -> None:

    dog = Watchdog()
    assert await dog.wait(1, asyncio.sleep(0, "fast")) == "fast"
    with pytest.raises(TimeoutError):
        await dog.wait(0.05, asyncio.sleep(10))
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    assert await dog.wait(0.2, asyncio.sleep(0.1, "later")) == "later"  # a deadline that moved on
    dog.close()


async def test_watchdog_lets_other_cancellations_through() -> None:

    async def guarded() -> None:
        dog = Watchdog()
        try:
            await dog.wait(5, asyncio.sleep(10))
        finally:
            dog.close()

    task = asyncio.get_running_loop().create_task(guarded())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
