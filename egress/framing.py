"""Strict HTTP/1.1 framing for requests that cross the proxy (request smuggling defence).

h11 parses leniently where RFC 9112 allows it (Transfer-Encoding overrides Content-Length).
A proxy must not: two parsers that disagree on where a request ends are exactly how requests
are smuggled past policy, so any message whose framing could be read two ways is refused.
"""

from __future__ import annotations


def framing_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    """None if the request's framing and Host are unambiguous, else a bounded reason."""
    lengths = [v for n, v in headers if n == b"content-length"]
    encodings = [v for n, v in headers if n == b"transfer-encoding"]
    hosts = [v for n, v in headers if n == b"host"]
    if lengths and encodings:
        return "content_length_and_transfer_encoding"
    if len(lengths) > 1 or any(b"," in v for v in lengths):
        return "duplicate_content_length"
    if encodings and (len(encodings) > 1 or encodings[0].strip().lower() != b"chunked"):
        return "bad_transfer_encoding"
    if len(hosts) != 1:
        return "missing_host" if not hosts else "duplicate_host"
    return None
