"""A loopback TCP relay to a real server that a test can cut: the shared PostgreSQL "goes down"
for tollgate while other engineers' tests keep using it.

`down()` closes the listener and every relayed connection (clients then get ECONNREFUSED);
`down(hang=True)` instead keeps accepting but relays nothing, like a database behind a dead
route (clients wait for their own timeouts); `up()` serves normally again.

Two more ways to make a healthy peer look slow or gone, switchable at any time: `delay_s` holds
every chunk from the server that long before the client gets it (a late reply), and `blackhole`
swallows what clients send on connections already open (a silent dead peer).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.upstream import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._hanging = False
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.delay_s = 0.0
        self.blackhole = False
        self.connections = 0

    def start(self) -> TcpProxy:
        self._thread.start()
        self.up()
        return self

    def _call(self, coro_fn) -> None:  # type: ignore[no-untyped-def]
        asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result(10)

    def up(self) -> None:
        async def listen() -> None:
            self._hanging = False
            if self._server is None:
                self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

        self._call(listen)

    def down(self, hang: bool = False) -> None:
        async def close() -> None:
            self._hanging = hang
            if self._server is not None and not hang:
                self._server.close()
                self._server = None
            for w in list(self._writers):
                w.transport.abort()
            self._writers.clear()

        self._call(close)

    def stop(self) -> None:
        self.down()
        self._call(self._close_held)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _close_held(self) -> None:
        for w in list(self._writers):
            w.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._hanging:
            self._writers.add(writer)  # held open, never answered; closed by the next up() or down()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, to_client: bool) -> None:
            last = 0.0  # when the previous delayed chunk goes out: a change of delay must not reorder bytes
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    if not to_client and self.blackhole:
                        continue
                    if to_client and (self.delay_s or last > self._loop.time()):
                        last = max(self._loop.time() + self.delay_s, last)
                        self._loop.call_at(last, _write, dst, data)
                        continue
                    dst.write(data)
                    await dst.drain()
            self._loop.call_at(max(last, self._loop.time()), dst.transport.abort)

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))
        self._writers -= {writer, up_writer}


def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)
