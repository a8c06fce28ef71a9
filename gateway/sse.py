"""A sans-IO parser for server-sent events as OpenAI-style streams use them.

Bytes in, complete events out; a partial event (or a CR that may begin a CRLF) waits in the
buffer, so events and UTF-8 sequences split across reads come out whole.
"""

from __future__ import annotations

from dataclasses import dataclass

# An OpenAI chunk is well under 64 KiB; a single event over 4 MiB means the stream is broken.
MAX_EVENT_BYTES = 4 * 1024 * 1024


class SSEError(Exception):
    pass


@dataclass(slots=True)
class Event:
    raw: bytes  # the event as received, line endings normalized, terminated by a blank line
    data: bytes | None  # data lines joined by "\n"; None for comment-only events


class SSEParser:
    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[Event]:
        if b"\r" in chunk or (self._buf and self._buf[-1:] == b"\r"):
            self._buf += chunk
            if self._buf.endswith(b"\r"):  # may be the first half of CRLF: decide on the next read
                held = self._buf[:-1].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                self._buf = bytearray(held) + b"\r"
            else:
                self._buf = bytearray(self._buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        else:
            self._buf += chunk
        events: list[Event] = []
        start = 0
        buf = self._buf
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            events.append(_event(bytes(buf[start : end + 2])))
            start = end + 2
        if start:
            del buf[:start]
        if len(buf) > self._max:
            raise SSEError(f"event larger than {self._max} bytes")
        return events

    def pending(self) -> bool:
        """True when the stream stopped inside an event."""
        return bool(self._buf.strip(b"\r\n"))


def _event(raw: bytes) -> Event:
    data: list[bytes] = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
    return Event(raw, b"\n".join(data) if data else None)


def encode_event(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"
