"""A TCP proxy on loopback that can make a healthy peer look slow or gone.

Runs in a thread with its own event loop. Modes, switchable at any time:
- `delay_s`: every chunk from the server reaches the client this much later (a late reply);
- `blackhole`: bytes from clients are swallowed and nothing is answered (a silent dead peer).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Self

from tests.upstream import free_port


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.delay_s = 0.0
        self.blackhole = False
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer, upstream=True), self._pipe(up_reader, writer, False))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: bool) -> None:
        last = 0.0  # when the previous chunk goes out: a change of delay must not reorder bytes
        try:
            while data := await reader.read(65536):
                if upstream and self.blackhole:
                    continue
                if upstream:
                    writer.write(data)
                    continue
                last = max(self._loop.time() + self.delay_s, last)
                self._loop.call_at(last, self._write, writer, data)
        except (ConnectionError, OSError):
            pass
        finally:
            self._loop.call_at(max(last, self._loop.time()), writer.close)

    @staticmethod
    def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
        if not writer.is_closing():
            writer.write(data)

    def stop(self) -> None:
        async def _stop() -> None:
            if self._server is not None:
                self._server.close()
            for w in self._writers:
                w.close()

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
