"""Relaying bytes between two connections at transport level (tunnels, WebSockets).

A StreamReader/Writer copy loop costs a coroutine switch, a buffer copy and a drain() per chunk
in each direction. Here each side's transport gets a tiny protocol that writes what it receives
straight into the other transport, and flow control is the transports' own: when one side's
write buffer passes its high-water mark, reading from the other side pauses until it drains.
"""

from __future__ import annotations

import asyncio
from typing import Any


class _Half(asyncio.Protocol):
    """Receives from transport `i` of a splice and forwards to the other one."""

    def __init__(self, splice: Splice, i: int) -> None:
        self.splice = splice
        self.i = i

    def data_received(self, data: bytes) -> None:
        self.splice.forward(self.i, data)

    def eof_received(self) -> bool:
        return self.splice.eof(self.i)

    def connection_lost(self, exc: Exception | None) -> None:
        self.splice.finish(None)

    # This side's write buffer is full: stop reading from the side that fills it.
    def pause_writing(self) -> None:
        self.splice.transports[1 - self.i].pause_reading()

    def resume_writing(self) -> None:
        self.splice.transports[1 - self.i].resume_reading()


class Splice:
    def __init__(
        self,
        a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        max_bytes: int,
        idle_timeout_s: float,
    ) -> None:
        self._readers = (a[0], b[0])
        self.transports: tuple[Any, Any] = (a[1].transport, b[1].transport)
        self.bytes = [0, 0]  # received from a (sent to b), received from b
        self.max_bytes = max_bytes
        self.idle_timeout_s = idle_timeout_s
        self._eof = [False, False]
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._last = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        # byte_cap | duration_cap: the relay was cut by a limit. A close or a reset from either side
        # is an ordinary end (TLS peers routinely reset after close_notify), an idle one too.
        self.cut: str | None = None

    async def run(self, max_duration_s: float) -> tuple[int, int]:
        for i, t in enumerate(self.transports):
            t.set_protocol(_Half(self, i))
        # Bytes the stream readers had already taken off the sockets belong to the relay too. The
        # sockets are the relay's now, so a reader will get nothing more: marked at its end, it
        # hands over what it holds without waiting (public API: no reach into its buffer).
        for i, reader in enumerate(self._readers):
            reader.feed_eof()
            pending = await reader.read() if reader.exception() is None else b""
            if pending:
                self.forward(i, pending)
        for t in self.transports:
            t.resume_reading()
        self._timer = self._loop.call_later(self.idle_timeout_s, self._check_idle)
        try:
            await asyncio.wait_for(asyncio.shield(self._done), max_duration_s)
        except TimeoutError:
            self.finish("duration_cap")
        finally:
            self.finish(None)
        return self.bytes[0], self.bytes[1]

    def forward(self, i: int, data: bytes) -> None:
        if self.bytes[0] + self.bytes[1] + len(data) > self.max_bytes:
            self.finish("byte_cap")  # this chunk is not relayed, nor counted as moved
            return
        self.bytes[i] += len(data)
        self._last = self._loop.time()
        self.transports[1 - i].write(data)

    def eof(self, i: int) -> bool:
        """Half-close: pass the EOF on where the transport can (TCP), else end the relay (TLS)."""
        self._eof[i] = True
        other = self.transports[1 - i]
        if all(self._eof) or not other.can_write_eof():
            self.finish(None)
            return False
        other.write_eof()
        return True

    def finish(self, cut: str | None) -> None:
        if self._done.done():
            return
        self.cut = cut
        if self._timer is not None:
            self._timer.cancel()
        for t in self.transports:
            t.close()
        self._done.set_result(None)

    def _check_idle(self) -> None:
        idle = self._loop.time() - self._last
        if idle >= self.idle_timeout_s:
            self.finish(None)
        else:
            self._timer = self._loop.call_later(self.idle_timeout_s - idle, self._check_idle)
