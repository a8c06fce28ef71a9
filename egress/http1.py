"""h11 on asyncio streams: reading events, relaying bodies re-framed, answering and refusing.

Shared by the proxy's front (CONNECT, /ca.pem, refusals) and the request loop inside tunnels.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from http import HTTPStatus
from typing import Any, TypeVar

import h11

# Request heads: 64 KiB, as h11's own default and nginx's large_client_header_buffers (4 x 8k)
# with room; agents send small heads.
MAX_HEAD = 64 * 1024
HEAD_TIMEOUT_S = 30.0
READ_SIZE = 256 * 1024
# Bodies a credential must hash before the head can leave (AWS APIs other than S3 sign the payload):
# API calls are small, and uploads carry their own hash (x-amz-content-sha256) and stream.
MAX_SIGNED_BODY = 8 * 1024 * 1024

T = TypeVar("T")


class ProxyError(Exception):
    """A refusal or failure answered with an HTTP status, a bounded reason and a message."""

    def __init__(self, status: int, reason: str, message: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers or []
        self.request_id = ""


class Cut(Exception):
    """A body relay broke part-way: reading the source (`at_source`) or writing the destination."""

    def __init__(self, at_source: bool) -> None:
        super().__init__("source" if at_source else "destination")
        self.at_source = at_source


class NoResponse(Exception):
    """The upstream closed or failed before a single byte of response: the request may be retried."""


async def within(timeout_s: float, conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    """The next h11 event, or TimeoutError. (asyncio.wait_for wraps each call in a new task on 3.11.)"""
    async with asyncio.timeout(timeout_s):
        return await next_event(conn, reader)


async def next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_SIZE))
            continue
        return event


class Watchdog:
    """The timeouts of one connection's task (idle keep-alive, the upstream's answer) at less cost
    than `asyncio.timeout`, which builds a context manager and a timer handle per await (~5 us,
    twice per keep-alive request). Arming sets a deadline; one timer fires at the earliest armed
    one and, finding it moved on, re-arms itself for the new one. Create it in the task it guards.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._deadline = math.inf
        self._timer: asyncio.TimerHandle | None = None
        self._expired = False

    async def wait(self, timeout_s: float, awaitable: Awaitable[T]) -> T:
        """`await awaitable`, or TimeoutError after `timeout_s`."""
        self._deadline = self._loop.time() + timeout_s
        if self._timer is None or self._timer.when() > self._deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(self._deadline, self._fire)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if not self._expired:
                raise
            self._expired = False
            self._task.uncancel()
            raise TimeoutError from None
        finally:
            self._deadline = math.inf

    def _fire(self) -> None:
        self._timer = None
        if self._deadline == math.inf:
            return  # nothing armed any more
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._fire)
            return
        self._expired = True
        self._task.cancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def response_head(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    """The upstream's first response event; NoResponse if it went away without sending a byte."""
    try:
        data = await reader.read(READ_SIZE)
    except OSError:
        raise NoResponse from None
    if not data:
        raise NoResponse
    conn.receive_data(data)
    return await next_event(conn, reader)


async def body_event(src: h11.Connection, reader: asyncio.StreamReader) -> Any:
    """The next body event of a client's request; a framing error there is the client's (400)."""
    try:
        return await next_event(src, reader)
    except h11.RemoteProtocolError:
        raise ProxyError(400, "bad_request_body", "malformed request body") from None


async def whole_body(src: h11.Connection, reader: asyncio.StreamReader, first: Any) -> bytes:
    """A request body read to its end, for a credential that signs it (bounded: 413 beyond)."""
    chunks: list[bytes] = []
    size = 0
    event = first
    while not isinstance(event, h11.EndOfMessage):
        if not isinstance(event, h11.Data):
            raise ProxyError(400, "bad_request_body", "the request body ended early")
        size += len(event.data)
        if size > MAX_SIGNED_BODY:
            raise ProxyError(413, "body_too_large_to_sign", f"bodies over {MAX_SIGNED_BODY} bytes cannot be re-signed")
        chunks.append(event.data)
        event = await body_event(src, reader)
    return b"".join(chunks)


async def _flush(writer: asyncio.StreamWriter, pending: list[bytes]) -> None:
    writer.write(b"".join(pending))
    pending.clear()
    try:
        await writer.drain()  # back-pressure before reading more
    except OSError:
        raise Cut(at_source=False) from None
    # drain() returns quietly on a closed transport, and write() drops data there: without this
    # check a download whose client left would go on reading the origin to the end.
    if writer.transport.is_closing():
        raise Cut(at_source=False)


async def copy_body(
    src: h11.Connection,
    reader: asyncio.StreamReader,
    dst: h11.Connection,
    writer: asyncio.StreamWriter,
    moved: list[int],
    slot: int,
    client_side: bool,
    first: Any = None,
    prefix: bytes = b"",
) -> None:
    """Stream a message body from one h11 connection to the other, re-framed, adding its size to
    `moved[slot]` as it goes (so a cut relay still reports what crossed). Raises Cut if either
    side fails part-way; a malformed body from the client is a ProxyError (400).

    Output is gathered until more input must be awaited, so a head and a small body leave in
    one write: on a TLS transport every write is its own record and its own syscall.
    """
    pending = [prefix] if prefix else []
    event = first
    while True:
        if event is None:
            try:
                event = src.next_event()
            except h11.RemoteProtocolError:
                if client_side:  # a bad chunk size or a short body from the agent is its error
                    raise ProxyError(400, "bad_request_body", "malformed request body") from None
                raise Cut(at_source=True) from None
            if event is h11.NEED_DATA:
                if pending:
                    await _flush(writer, pending)
                try:
                    data = await reader.read(READ_SIZE)
                except OSError:
                    raise Cut(at_source=True) from None
                src.receive_data(data)
                event = None
                continue
        if isinstance(event, h11.Data):
            moved[slot] += len(event.data)
            pending.append(dst.send(event))
        elif isinstance(event, h11.EndOfMessage):
            pending.append(dst.send(h11.EndOfMessage()))
            await _flush(writer, pending)
            return
        else:
            raise Cut(at_source=True)
        event = None


async def respond(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes | None,
    headers: list[tuple[bytes, bytes]],
    reason: bytes | None = None,
) -> None:
    if body is not None:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    if reason is None:
        reason = HTTPStatus(status).phrase.encode()
    writer.write(conn.send(h11.Response(status_code=status, headers=headers, reason=reason)))
    if body is not None:
        writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


async def send_error(conn: h11.Connection, writer: asyncio.StreamWriter, e: ProxyError) -> None:
    body = f"{e.message}\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-tollgate-reason", e.reason.encode()),
        (b"connection", b"close"),
        *e.headers,
    ]
    if e.request_id:
        headers.append((b"x-request-id", e.request_id.encode()))
    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
        await respond(conn, writer, e.status, body, headers)
