"""The local spool: where batches go when the database is away and the queue is full.

One append-only file of JSON lines per worker (`spool-<pid>.jsonl` in the spool directory),
held under an exclusive `flock` while its worker lives. Each batch is one `write` followed by
`fsync`, so after a crash every batch but possibly the last is whole; a torn last line is
skipped on replay. Replay reads from the front in order and empties the file once it has all
been written to the database. A worker that starts adopts the files no live worker holds (a
previous run's, a crashed worker's) by copying them into its own spool, in order, before
anything new. Events hold no PII (DESIGN.md §7), so the spool holds none either.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import threading
from collections.abc import Sequence

import orjson

from audit.event import AuditEvent

log = logging.getLogger("tollgate.audit")

# Read this much of the file at a time when replaying: far beyond one event, small next to memory.
_READ_CHUNK = 1 << 20


class Spool:
    def __init__(self, directory: str, max_bytes: int, name: str | None = None) -> None:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.directory = directory
        self.max_bytes = max_bytes
        self.path = os.path.join(directory, f"spool-{name or os.getpid()}.jsonl")
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.size = os.fstat(self._fd).st_size
        self.offset = 0  # everything before this has reached the database
        # Appends run in a thread (fsync) while the writer reads and consumes on the event loop:
        # the file may only be emptied when no append is half done.
        self._append_lock = threading.Lock()

    @property
    def pending(self) -> int:
        return self.size - self.offset

    def append(self, events: Sequence[AuditEvent]) -> bool:
        """Write and fsync one batch; False (nothing written) when it would pass the size cap."""
        data = b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in events)
        with self._append_lock:
            if self.size + len(data) > self.max_bytes:
                return False
            os.write(self._fd, data)
            os.fsync(self._fd)
            self.size += len(data)
        return True

    def read(self, n: int) -> tuple[list[AuditEvent], int, int]:
        """Up to `n` events from the front: (events, the offset after them, lines skipped as torn)."""
        events: list[AuditEvent] = []
        skipped = 0
        offset = self.offset
        buffer = b""
        while len(events) < n and offset + len(buffer) < self.size:
            chunk = os.pread(self._fd, min(_READ_CHUNK, self.size - offset - len(buffer)), offset + len(buffer))
            if not chunk:
                break
            buffer += chunk
            while len(events) < n:
                end = buffer.find(b"\n")
                if end < 0:
                    break
                line, buffer = buffer[:end], buffer[end + 1 :]
                offset += end + 1
                try:
                    events.append(AuditEvent.from_dict(orjson.loads(line)))
                except (orjson.JSONDecodeError, TypeError):
                    skipped += 1
        if len(events) < n and buffer and offset + len(buffer) >= self.size:
            # A last line without its newline: the write a crash cut short. Never completed, never valid.
            offset += len(buffer)
            skipped += 1
        return events, offset, skipped

    def consume(self, offset: int) -> None:
        """Those events are in the database; once the file is all consumed, it starts over empty."""
        self.offset = offset
        # Never wait for an append here (this runs on the event loop); the next consume empties it.
        if self.offset >= self.size and self._append_lock.acquire(blocking=False):
            try:
                if self.offset >= self.size:
                    os.ftruncate(self._fd, 0)
                    self.size = self.offset = 0
            finally:
                self._append_lock.release()

    def adopt_orphans(self) -> int:
        """Take over the spools no live worker holds; returns the bytes adopted."""
        adopted = 0
        for path in sorted(glob.glob(os.path.join(self.directory, "spool-*.jsonl"))):
            if path == self.path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # another worker adopted and removed it
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live worker's
                if os.fstat(fd).st_nlink == 0:
                    continue  # adopted by another worker between our open and our lock
                with self._append_lock:
                    adopted += self._copy_from(fd)
                    os.fsync(self._fd)
                os.unlink(path)
            finally:
                os.close(fd)
        return adopted

    def _copy_from(self, fd: int) -> int:
        copied = 0
        while chunk := os.read(fd, _READ_CHUNK):
            os.write(self._fd, chunk)
            copied += len(chunk)
        if copied and not chunk_ends_line(fd):
            os.write(self._fd, b"\n")  # a torn last line stays one bad line, not glued to the next
            copied += 1
        self.size += copied
        return copied

    def close(self, *, remove_if_empty: bool = True) -> None:
        empty = self.size == self.offset
        if empty and remove_if_empty:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        elif self.offset:
            # Keep only what is not in the database yet, so a restart does not send it twice.
            self._compact()
        os.close(self._fd)

    def _compact(self) -> None:
        tmp = self.path + ".tmp"
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            offset = self.offset
            while chunk := os.pread(self._fd, _READ_CHUNK, offset):
                os.write(out, chunk)
                offset += len(chunk)
            os.fsync(out)
        finally:
            os.close(out)
        os.replace(tmp, self.path)


def chunk_ends_line(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"
