"""Strict HTTP/1.1 framing for requests that cross the proxy (request smuggling defence).

h11 parses leniently where RFC 9112 allows it (Transfer-Encoding overrides Content-Length).
A proxy must not: two parsers that disagree on where a request ends are exactly how requests
are smuggled past policy, so any message whose framing could be read two ways is refused.
"""

from __future__ import annotations

from collections.abc import Sequence


def framing_problem(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """None if the request's framing and Host are unambiguous, else a bounded reason."""
    lengths = encodings = hosts = 0
    length = encoding = b""
    for n, v in headers:  # one pass: this runs on every request
        if n == b"content-length":
            lengths += 1
            length = v
        elif n == b"transfer-encoding":
            encodings += 1
            encoding = v
        elif n == b"host":
            hosts += 1
    if lengths and encodings:
        return "content_length_and_transfer_encoding"
    if lengths > 1 or b"," in length:
        return "duplicate_content_length"
    if encodings and (encodings > 1 or encoding.strip().lower() != b"chunked"):
        return "bad_transfer_encoding"
    if hosts != 1:
        return "missing_host" if not hosts else "duplicate_host"
    return None
