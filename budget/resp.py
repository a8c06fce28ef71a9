"""A small pipelining Redis client for the budget hot path, single node or Redis Cluster.

Every LLM request costs one EVALSHA to reserve and one to settle. redis-py's asyncio client
spends about 60 µs of CPU per call here under load (connection checkout, per-command
coroutines); this client writes commands straight onto one connection per node, coalesces
everything issued in the same loop iteration into a single write, and matches replies to callers
in order with hiredis' C parser: about a tenth of that cost.

What makes it fit for production rather than a benchmark:
- Timeouts measure the store, not the event loop. A busy loop (a long callback, a stopped
  process) fires timers late, and uvloop runs due timers *before* it polls sockets, so a reply
  that has been sitting in the kernel buffer for 20 ms would be declared missing. Before failing
  a call the watchdog asks the kernel whether bytes are waiting (FIONREAD) and how late it fired
  itself, and a command written late gets its window from the write; in each case the loop, not
  the store, was slow, and the call gets a full window. A store still answering earlier commands
  is busy, not down: the call waits on (up to BUSY_STORE_CAP timeouts). Only a full window on a
  responsive loop with no byte from the store is a failure.
- A failed call says whether the command reached the wire (`RedisUnavailable.sent`): a command
  never sent was certainly not applied; one sent and unanswered may have been.
- A connection is recycled after consecutive timeouts with no byte from the peer, and TCP
  keepalive finds peers that vanished while idle.
- Pipelining is bounded per connection; scripts are loaded once per connection, in the
  handshake; AUTH failures close the transport they opened.
- `rediss://` (TLS) and Redis Cluster (slot map, MOVED/ASK, refresh on topology change).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import socket
import ssl
import struct
import termios
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import hiredis

# Commands in flight on one connection. Redis answers a pipeline at memory speed; 16k waiting
# replies means the store is not keeping up, and queueing more only hides it.
MAX_IN_FLIGHT = 16_384
# A connection silent this many timeouts while commands wait for replies is presumed dead and
# replaced (redis-py's health checks make the same call on a silent socket).
RECYCLE_AFTER_TIMEOUTS = 3
# A store that still answers earlier commands gets at most this many timeouts for one call, and
# a loop too starved to judge at most STARVED_LOOP_CAP: neither may hold a request hostage.
BUSY_STORE_CAP = 10
STARVED_LOOP_CAP = 100
# A watchdog that fires this much past its time (or half a timeout, if longer) was held up by the
# loop, not by the store. uvloop's clock has millisecond steps, and its timers run a few ms late
# on a busy machine without anything being wrong.
LAG_TOLERANCE_S = 0.005
# Idle connections are probed after this long (Linux default: 2 hours, far too late for a budget).
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 10, 5, 3
CLUSTER_SLOTS = 16384
MAX_REDIRECTS = 5


class RedisError(Exception):
    """An error reply from Redis."""


class RedisUnavailable(RedisError):
    """No reply: not connected, connection lost, no answer in time, or too much in flight.

    `sent` is False when the command never reached the wire (so it was certainly not applied).
    """

    def __init__(self, message: str, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True, slots=True)
class Options:
    timeout_s: float
    username: str | None = None
    password: str | None = None
    db: int = 0
    ssl: ssl.SSLContext | None = None
    scripts: tuple[str, ...] = ()  # SCRIPT LOADed on every new connection

    @property
    def connect_timeout_s(self) -> float:
        return max(self.timeout_s * 10, 0.5)


@dataclass(frozen=True, slots=True)
class Target:
    nodes: tuple[tuple[str, int], ...]  # one node, or a Cluster's seed nodes
    options: Options
    cluster: bool


def parse_url(
    url: str,
    timeout_s: float,
    *,
    cluster: bool = False,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    scripts: Sequence[str] = (),
) -> Target:
    """`redis://[user:password@]host:port[,host:port…]/db` or `rediss://…` (TLS, verified)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"must be a redis:// or rediss:// URL, got scheme {parts.scheme!r}")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    nodes = []
    for item in hostlist.split(","):
        if item.startswith("["):  # [IPv6]:port
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        nodes.append((host or "127.0.0.1", int(port) if port else 6379))
    if len(nodes) > 1 and not cluster:
        raise ValueError("several hosts are a Redis Cluster's seed nodes: set redis_cluster: true")
    db = int(parts.path.lstrip("/") or 0)
    if cluster and db:
        raise ValueError("Redis Cluster has only database 0")
    context = None
    if parts.scheme == "rediss":
        context = ssl.create_default_context(cafile=ca_file)
        if cert_file:
            context.load_cert_chain(cert_file, key_file)
    user, _, password = userinfo.partition(":")
    if user and not password:
        raise ValueError("a Redis user name needs a password (redis://user:password@host)")
    options = Options(
        timeout_s=timeout_s,
        username=unquote(user) or None,
        password=unquote(password) or None,
        db=db,
        ssl=context,
        scripts=tuple(scripts),
    )
    return Target(tuple(nodes), options, cluster)


def _pending_bytes(fd: int) -> int:
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except OSError:
        return 0


class _Conn(asyncio.Protocol):
    """One connection: FIFO replies, a single watchdog timer for all calls in flight."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self._loop = loop
        self._timeout_s = timeout_s
        self._starved_cap = timeout_s * STARVED_LOOP_CAP
        self._reader = hiredis.Reader()
        # (future, deadline, sent_at); a future already failed by the watchdog stays here until its
        # reply arrives, because replies are matched by position.
        self._waiters: deque[tuple[asyncio.Future[Any], float, float]] = deque()
        self._expired = 0  # how many of the oldest waiters were already failed by the watchdog
        self._pending: list[bytes] = []  # packed commands of the newest waiters, written at the next flush
        self._pending_since = 0.0
        self._transport: asyncio.Transport | None = None
        self._fd = -1
        self._timer: asyncio.Handle | None = None  # uvloop turns a zero delay into call_soon
        self._timer_at = 0.0
        self._last_rx = loop.time()  # silence is measured from the connection's start, then from each reply
        self._responsive_since = self._last_rx  # ... or from the end of the last stall of the loop
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._fd = sock.fileno()
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_S)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_COUNT)

    def data_received(self, data: bytes) -> None:
        self._last_rx = self._loop.time()
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            fut = self._waiters.popleft()[0]
            if self._expired:
                self._expired -= 1  # its caller was already told; the reply only had to be consumed
                continue
            if isinstance(reply, hiredis.ReplyError):
                fut.set_exception(RedisError(str(reply)))
            else:
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        while self._waiters:
            fut = self._waiters.popleft()[0]
            if not fut.done():
                fut.set_exception(RedisUnavailable("connection to Redis lost", sent=True))
        self._expired = 0

    def send(self, args: Sequence[Any]) -> asyncio.Future[Any]:
        fut = self._loop.create_future()
        if self.closed or self._transport is None:
            fut.set_exception(RedisUnavailable("not connected to Redis", sent=False))
            return fut
        if len(self._waiters) >= MAX_IN_FLIGHT:
            fut.set_exception(RedisUnavailable("too many Redis commands in flight", sent=False))
            return fut
        now = self._loop.time()
        if not self._pending:
            self._pending_since = now
            self._loop.call_soon(self._flush)
        self._pending.append(hiredis.pack_command(tuple(args)))
        # A reply cannot overtake the one before it, so deadlines only ever grow along the queue.
        deadline = now + self._timeout_s
        if self._waiters and self._waiters[-1][1] > deadline:
            deadline = self._waiters[-1][1]
        self._waiters.append((fut, deadline, now))
        if self._timer is None or self._timer_at > deadline:  # none, or one for the longer set-up timeout
            if self._timer is not None:
                self._timer.cancel()
            self._arm(deadline)
        return fut

    def set_timeout(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._starved_cap = timeout_s * STARVED_LOOP_CAP

    def _flush(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.write(b"".join(self._pending))
            now = self._loop.time()
            if now - self._pending_since > self._stall_s:
                self._restart_windows(len(self._pending), now + self._timeout_s)
        self._pending.clear()

    def _restart_windows(self, n: int, deadline: float) -> None:
        """The loop stopped between send and write: the windows of the calls in this write (the
        newest n) start now. Earlier calls keep theirs, and deadlines still grow along the queue."""
        tail = [self._waiters.pop() for _ in range(min(n, len(self._waiters) - self._expired))]
        self._waiters.extend((fut, max(old, deadline), sent_at) for fut, old, sent_at in reversed(tail))

    @property
    def _stall_s(self) -> float:
        return max(LAG_TOLERANCE_S, self._timeout_s / 2)

    def _arm(self, when: float) -> None:
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._watch)

    def _watch(self) -> None:
        self._timer = None
        if len(self._waiters) <= self._expired:
            return
        now = self._loop.time()
        _, deadline, sent_at = self._waiters[self._expired]
        if deadline > now:
            self._arm(deadline)
            return
        if len(self._waiters) - self._expired <= len(self._pending) or (self._fd >= 0 and _pending_bytes(self._fd)):
            # Our command is not even written yet, or the reply waits in the kernel: the loop runs
            # this timer before its flush and its poll, which come next in this very iteration.
            self._arm(now)
            return
        if now - self._timer_at > self._stall_s and now - sent_at < self._starved_cap:
            self._responsive_since = now
            self._arm(now + self._timeout_s)  # the loop ate the window: give the store a fair one
            return
        if now - self._last_rx < self._timeout_s and now - sent_at < self._timeout_s * BUSY_STORE_CAP:
            # Replies to earlier commands are still arriving: the store is working through a queue
            # (a burst, or a machine short of CPU), not gone. Wait for ours, within the cap.
            self._arm(now + self._timeout_s)
            return
        # A full window on a responsive loop, and nothing arrived: the store is slow or gone.
        while len(self._waiters) > self._expired and self._waiters[self._expired][1] <= now:
            expired = self._waiters[self._expired][0]
            self._expired += 1
            if not expired.done():
                expired.set_exception(RedisUnavailable("Redis did not answer in time", sent=True))
        if now - max(self._last_rx, self._responsive_since) >= self._timeout_s * RECYCLE_AFTER_TIMEOUTS:
            self.close()  # presumed dead: connection_lost fails the rest, the next call reconnects
        elif len(self._waiters) > self._expired:
            self._arm(self._waiters[self._expired][1])

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self.closed = True


class Client(Protocol):
    """What the budget store needs; `key` routes the command in a Cluster (ignored otherwise)."""

    async def call(self, *args: Any, key: str | None = None) -> Any: ...
    def call_nowait(self, *args: Any, key: str | None = None) -> asyncio.Future[Any]: ...
    async def close(self) -> None: ...


class Redis:
    """One Redis node, one pipelined connection, re-established on demand (single-flight)."""

    def __init__(self, host: str, port: int, options: Options) -> None:
        self.host = host
        self.port = port
        self.options = options
        self._conn: _Conn | None = None
        self._connecting: asyncio.Future[_Conn] | None = None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    async def _connection(self) -> _Conn:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        opts = self.options
        conn: _Conn | None = None
        try:
            async with asyncio.timeout(opts.connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: _Conn(loop, opts.connect_timeout_s),
                    self.host,
                    self.port,
                    ssl=opts.ssl,
                    server_hostname=self.host if opts.ssl else None,
                )
                handshake = []
                if opts.password:
                    auth = (opts.username, opts.password) if opts.username else (opts.password,)
                    handshake.append(conn.send(("AUTH", *auth)))
                if opts.db:
                    handshake.append(conn.send(("SELECT", opts.db)))
                handshake += [conn.send(("SCRIPT", "LOAD", script)) for script in opts.scripts]
                # Every reply is awaited, so a failed AUTH is not left as a stray exception.
                replies = await asyncio.gather(*handshake, return_exceptions=True)
                for reply in replies:
                    if isinstance(reply, BaseException):
                        raise reply
        except (OSError, TimeoutError, ssl.SSLError, RedisError) as e:
            if conn is not None:
                conn.close()  # no transport outlives a failed handshake
            if isinstance(e, RedisError) and not isinstance(e, RedisUnavailable):
                raise RedisUnavailable(f"Redis at {self.name} refused the connection set-up: {e}", False) from None
            raise RedisUnavailable(f"cannot connect to Redis at {self.name}: {e or type(e).__name__}", False) from None
        conn.set_timeout(opts.timeout_s)
        self._conn = conn
        return conn

    async def call(self, *args: Any, key: str | None = None) -> Any:
        conn = await self._connection()
        return await conn.send(args)

    def call_nowait(self, *args: Any, key: str | None = None) -> asyncio.Future[Any]:
        """Send now, on the current connection; the reply (or RedisUnavailable) arrives in the future.

        No coroutine, no task on the hot path: with a live connection the command is queued at
        once. Without one (the first call, or after a loss) it is sent once the connection is up.
        """
        conn = self._conn
        if conn is None or conn.closed:
            return asyncio.ensure_future(self.call(*args))
        return conn.send(args)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_CRC16_TABLE: list[int] = []
for _byte in range(256):
    _crc = _byte << 8
    for _ in range(8):
        _crc = ((_crc << 1) ^ 0x1021) if _crc & 0x8000 else (_crc << 1)
    _CRC16_TABLE.append(_crc & 0xFFFF)


@functools.lru_cache(maxsize=4096)
def key_slot(key: str) -> int:
    """The Cluster slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key."""
    data = key.encode()
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16_TABLE[((crc >> 8) ^ b) & 0xFF]
    return crc % CLUSTER_SLOTS


def _redirect(error: BaseException) -> tuple[str, int, str, int] | None:
    """('MOVED' | 'ASK', slot, host, port) from a redirection error, else None."""
    if not isinstance(error, RedisError) or isinstance(error, RedisUnavailable):
        return None
    kind, _, rest = str(error).partition(" ")
    if kind not in ("MOVED", "ASK"):
        return None
    slot, _, address = rest.partition(" ")
    host, _, port = address.rpartition(":")
    return kind, int(slot), host.strip("[]"), int(port)


@dataclass
class RedisCluster:
    """Redis Cluster: commands go to the node owning their key's slot; MOVED updates the map.

    The budget's keys of one org share a hash tag, so each script runs on one node.
    """

    seeds: tuple[tuple[str, int], ...]
    options: Options
    _nodes: dict[tuple[str, int], Redis] = field(default_factory=dict)
    _slots: list[tuple[str, int] | None] = field(default_factory=lambda: [None] * CLUSTER_SLOTS)
    _refreshing: asyncio.Future[None] | None = None

    def _node(self, address: tuple[str, int]) -> Redis:
        node = self._nodes.get(address)
        if node is None:
            node = self._nodes[address] = Redis(address[0], address[1], self.options)
        return node

    async def refresh(self) -> None:
        """Reload the slot map (single-flight: concurrent callers share one CLUSTER SLOTS)."""
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._refresh())
        refreshing = self._refreshing
        try:
            await asyncio.shield(refreshing)
        finally:
            if refreshing.done() and self._refreshing is refreshing:
                self._refreshing = None

    async def _refresh(self) -> None:
        last: Exception | None = None
        for address in [*self._nodes, *self.seeds]:
            try:
                ranges = await self._node(address).call("CLUSTER", "SLOTS")
            except RedisError as e:
                last = e
                continue
            slots: list[tuple[str, int] | None] = [None] * CLUSTER_SLOTS
            for start, end, primary, *_replicas in ranges:
                host = primary[0].decode() if isinstance(primary[0], bytes) else primary[0]
                owner = (host or address[0], int(primary[1]))
                for slot in range(int(start), int(end) + 1):
                    slots[slot] = owner
            self._slots = slots
            live = set(slots)
            for gone in [a for a in self._nodes if a not in live and a not in self.seeds]:
                await self._nodes.pop(gone).close()
            return
        raise RedisUnavailable(f"no Redis Cluster node answered CLUSTER SLOTS: {last}", sent=False)

    def _refresh_soon(self) -> None:
        task = asyncio.ensure_future(self.refresh())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a failed refresh is retried later

    async def _owner(self, key: str) -> Redis:
        address = self._slots[key_slot(key)]
        if address is None:
            await self.refresh()
            address = self._slots[key_slot(key)]
            if address is None:
                raise RedisUnavailable(f"Redis Cluster slot {key_slot(key)} has no node", sent=False)
        return self._node(address)

    async def call(self, *args: Any, key: str | None = None) -> Any:
        if key is None:
            raise ValueError("a Redis Cluster command needs the key that routes it")
        node = await self._owner(key)
        asking = False
        for _ in range(MAX_REDIRECTS):
            try:
                if asking:
                    node.call_nowait("ASKING")  # same connection, same write: it precedes the command
                return await node.call(*args)
            except RedisUnavailable:
                self._refresh_soon()  # a node gone may mean a failover
                raise
            except RedisError as e:
                redirect = _redirect(e)
                if redirect is None:
                    raise
                kind, slot, host, port = redirect
                node, asking = self._node((host, port)), kind == "ASK"
                if kind == "MOVED":
                    self._slots[slot] = (host, port)
                    self._refresh_soon()  # one move usually means a resharding
        raise RedisUnavailable(f"too many Redis Cluster redirections for {key!r}", sent=True)

    def call_nowait(self, *args: Any, key: str | None = None) -> asyncio.Future[Any]:
        """Fast path on the known owner; a redirection or an unknown slot falls back to `call`."""
        loop = asyncio.get_running_loop()
        address = self._slots[key_slot(key)] if key is not None else None
        if address is None:
            return asyncio.ensure_future(self.call(*args, key=key))
        first = self._node(address).call_nowait(*args)
        result: asyncio.Future[Any] = loop.create_future()

        def done(f: asyncio.Future[Any]) -> None:
            error = f.exception()
            if error is not None and _redirect(error) is not None:
                retry = asyncio.ensure_future(self.call(*args, key=key))
                retry.add_done_callback(functools.partial(_chain, result))
            else:
                _chain(result, f)

        first.add_done_callback(done)
        return result

    async def close(self) -> None:
        for node in self._nodes.values():
            await node.close()
        self._nodes.clear()


def _chain(target: asyncio.Future[Any], source: asyncio.Future[Any]) -> None:
    if target.done():
        return
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


def connect(target: Target) -> Client:
    """A client for the target; connections open lazily on first use."""
    if target.cluster:
        return RedisCluster(target.nodes, target.options)
    host, port = target.nodes[0]
    return Redis(host, port, target.options)


__all__ = [
    "Client",
    "Options",
    "Redis",
    "RedisCluster",
    "RedisError",
    "RedisUnavailable",
    "Target",
    "connect",
    "key_slot",
    "parse_url",
]
