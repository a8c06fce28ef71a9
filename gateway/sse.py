"""A sans-IO parser for server-sent events as OpenAI- and Anthropic-style streams use them.

Bytes in, complete events out; a partial event waits in the buffer, so events and UTF-8
sequences split across reads come out whole. CRLF, CR and LF line endings are all accepted.
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
    name: bytes | None = None  # the `event:` field (Responses and Messages streams name every event)


class SSEParser:
    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_event_bytes
        self._skip_lf = False  # the last chunk ended in CR: an LF opening the next one completes a CRLF

    def feed(self, chunk: bytes) -> list[Event]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._buf += chunk
        events: list[Event] = []
        start = 0
        buf = self._buf
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            if end - start > self._max:
                raise SSEError(f"event larger than {self._max} bytes")
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
    if raw.startswith(b"data: ") and raw.find(b"\n") == len(raw) - 2:  # the usual one-line event
        return Event(raw, raw[6:-2])
    data: list[bytes] = []
    name = None
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line == b"data":  # a field name alone means an empty value
            data.append(b"")
        elif line.startswith(b"event:"):
            value = line[6:]
            name = value[1:] if value.startswith(b" ") else value
    return Event(raw, b"\n".join(data) if data else None, name)


def encode_event(data: bytes, name: bytes | None = None) -> bytes:
    if name is not None:
        return b"event: " + name + b"\ndata: " + data + b"\n\n"
    return b"data: " + data + b"\n\n"
