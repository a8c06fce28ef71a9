"""Relaying bytes between two connections at transport level (tunnels, WebSockets).

A StreamReader/Writer copy loop costs a coroutine switch, a buffer copy and a drain() per chunk
in each direction. Here each side's transport gets a tiny protocol that writes what it receives
straight into the other transport, and flow control is the transports' own: when one side's
write buffer passes its high-water mark, reading from the other side pauses until it drains.

Between two plain TCP sockets (CONNECT tunnels) the bytes do not even enter the process:
`_KernelRelay` moves them with splice(2), socket → pipe → socket, as HAProxy does.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
from typing import Any

# splice(2) per call and pipe capacity: 1 MiB is Linux's default /proc/sys/fs/pipe-max-size.
SPLICE_BYTES = 1024 * 1024
# A relay moves to splice(2) once this much crossed: its set-up (two pipes, two duplicated
# descriptors, ~15 syscalls) is more than a short exchange through the transports costs.
KERNEL_AFTER = 256 * 1024
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


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
        self._kernel: _KernelRelay | None = None
        self._kernel_ok = False  # both sides plain TCP: the relay may move to splice(2)
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
        self._kernel_ok = hasattr(os, "splice") and all(_plain_tcp(t) for t in self.transports)
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
        if self._kernel_ok and self.bytes[0] + self.bytes[1] >= KERNEL_AFTER:
            self._kernel = _KernelRelay.start(self)  # None: again once the write buffers are empty
            if self._kernel is not None:
                self._kernel_ok = False

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
        if self._kernel is not None:
            self._kernel.close()
        for t in self.transports:
            t.close()
        self._done.set_result(None)

    def _check_idle(self) -> None:
        idle = self._loop.time() - self._last
        if idle >= self.idle_timeout_s:
            self.finish(None)
        else:
            self._timer = self._loop.call_later(self.idle_timeout_s - idle, self._check_idle)


def _plain_tcp(transport: Any) -> bool:
    sock = transport.get_extra_info("socket")
    return (
        transport.get_extra_info("ssl_object") is None
        and sock is not None
        and sock.family in (socket.AF_INET, socket.AF_INET6)
    )


class _KernelRelay:
    """splice(2) between two TCP sockets: each direction reads into its own pipe and writes on
    from it, so payload never crosses into user space (a 200 MB tunnel: no copies in Python, a
    syscall per MiB instead of a callback per 256 KiB). The transports stay paused and keep their
    protocols, so closing one (a revocation, `Upstream.abort`) still ends the relay through
    `connection_lost`; the relay works on duplicates of their descriptors, closed with it."""

    def __init__(self, splice: Splice) -> None:
        self.splice = splice
        self.socks: list[socket.socket] = []
        self.fds: list[int] = []
        self.pipes: list[tuple[int, int]] = []
        self.held = [0, 0]  # bytes read from side i still in its pipe
        self.blocked = [False, False]  # side i's pipe waits for the other socket to take more
        self.eof = list(splice._eof)  # a side that half-closed before stays closed
        self.loop = splice._loop

    @classmethod
    def start(cls, splice: Splice) -> _KernelRelay | None:
        """A relay over the splice's (plain TCP) sockets, or None while a transport still has bytes
        to write (they must leave before any spliced byte) or when descriptors cannot be had."""
        if splice._done.done() or any(t.get_write_buffer_size() for t in splice.transports):
            return None
        relay = cls(splice)
        try:
            for t in splice.transports:
                relay.socks.append(socket.socket(fileno=os.dup(t.get_extra_info("socket").fileno())))
            for _ in range(2):
                r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
                relay.pipes.append((r, w))
                with contextlib.suppress(OSError):  # a smaller pipe only means more calls
                    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, SPLICE_BYTES)
        except OSError:  # out of descriptors: the transports go on relaying
            relay.close()
            splice._kernel_ok = False
            return None
        relay.fds = [sk.fileno() for sk in relay.socks]
        for i, t in enumerate(splice.transports):
            t.pause_reading()
            if not relay.eof[i]:
                relay.loop.add_reader(relay.fds[i], relay._read, i)
        return relay

    def _read(self, i: int) -> None:
        splice = self.splice
        room = splice.max_bytes - splice.bytes[0] - splice.bytes[1]
        try:
            n = os.splice(self.fds[i], self.pipes[i][1], min(SPLICE_BYTES, room + 1), flags=_SPLICE_FLAGS)
        except BlockingIOError:
            return
        except OSError:  # reset: an ordinary end, as for the transports
            splice.finish(None)
            return
        if n == 0:
            self._eof(i)
            return
        if n > room:
            splice.finish("byte_cap")  # this read is not relayed, nor counted as moved
            return
        splice.bytes[i] += n
        splice._last = self.loop.time()
        self.held[i] = n
        self._write(i)

    def _write(self, i: int) -> None:
        """Empty side i's pipe into the other socket; while it is full, stop reading side i."""
        out = self.fds[1 - i]
        while self.held[i]:
            try:
                self.held[i] -= os.splice(self.pipes[i][0], out, self.held[i], flags=_SPLICE_FLAGS)
            except BlockingIOError:
                if not self.blocked[i]:
                    self.blocked[i] = True
                    self.loop.remove_reader(self.fds[i])
                    self.loop.add_writer(out, self._write, i)
                return
            except OSError:
                self.splice.finish(None)
                return
        if self.blocked[i]:
            self.blocked[i] = False
            self.loop.remove_writer(out)
            self.loop.add_reader(self.fds[i], self._read, i)

    def _eof(self, i: int) -> None:
        """Half-close: the other side's write end, as the transports do for TCP."""
        self.eof[i] = True
        self.loop.remove_reader(self.fds[i])
        if all(self.eof):
            self.splice.finish(None)
            return
        try:
            self.socks[1 - i].shutdown(socket.SHUT_WR)
        except OSError:
            self.splice.finish(None)

    def close(self) -> None:
        for fd in self.fds:
            self.loop.remove_reader(fd)
            self.loop.remove_writer(fd)
        for sk in self.socks:
            sk.close()
        for r, w in self.pipes:
            os.close(r)
            os.close(w)
        self.pipes.clear()
