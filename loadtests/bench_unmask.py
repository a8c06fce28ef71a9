"""Streaming unmasking cost per chunk: the relay with and without the unmasker, same chunks, same run.

    .venv/bin/python loadtests/bench_unmask.py

Target (PII issue): unmasking adds at most 0.2 ms per streamed chunk.
"""

from __future__ import annotations

import time

import orjson

from gateway.relay import StreamRelay
from gateway.sse import encode_event
from pii import StreamUnmasker, Vault

PIECES = ["Hello ", "there, please write to <EMA", "IL_1> or <EMAIL_2", "> about the ", "invoice. Thanks! "] * 40
ROUNDS = 50


def chunk(text: str) -> bytes:
    obj = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
           "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}  # fmt: skip
    return encode_event(orjson.dumps(obj))


def per_chunk(events: list[bytes], vault: Vault | None) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(ROUNDS):
            relay = StreamRelay(False, StreamUnmasker(vault) if vault is not None else None)
            for event in events:
                relay.feed(event)
        best = min(best, (time.process_time() - started) / (ROUNDS * len(events)))
    return best


def main() -> None:
    vault = Vault()
    for i in range(5):
        vault.placeholder("EMAIL", f"user{i}@example.com")
    events = [chunk(p) for p in PIECES]
    plain = per_chunk(events, None)
    unmask = per_chunk(events, vault)
    added = (unmask - plain) * 1e3
    print(f"relay {plain * 1e6:.1f} us/chunk, relay + unmasking {unmask * 1e6:.1f} us/chunk")
    print(f"unmasking adds {added * 1e3:.1f} us per chunk: {'PASS' if added <= 0.2 else 'FAIL'} (target <= 0.2 ms)")


if __name__ == "__main__":
    main()
