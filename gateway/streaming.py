"""The LLM door's stream loop: relay a provider's event stream to the client chunk by chunk, with
back-pressure, values restored, and account for it however it ends (finished, failed upstream,
client gone, token revoked).

What is relayed is decided by the sans-IO relays of `gateway.relay`; this is the asyncio shell
around them, plus the register of open streams that a reload uses to cut revoked tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from budget import BudgetGuard
from gateway import metrics
from gateway.accounting import CLIENT_CLOSED, Call, Outcome, account
from gateway.relay import EventRelay
from gateway.tokenizer import count_text
from gateway.upstream import UpstreamResponse
from pii import StreamUnmasker


class OpenStreams:
    """Streams under way, by the token hash that opened them."""

    def __init__(self) -> None:
        self._by_token: dict[str, set[tuple[Call, asyncio.Task[Any]]]] = {}

    def add(self, token_hash: str, entry: tuple[Call, asyncio.Task[Any]]) -> None:
        self._by_token.setdefault(token_hash, set()).add(entry)

    def discard(self, token_hash: str, entry: tuple[Call, asyncio.Task[Any]]) -> None:
        streams = self._by_token.get(token_hash)
        if streams is not None:
            streams.discard(entry)
            if not streams:
                del self._by_token[token_hash]

    def cut(self, known: Callable[[str], bool]) -> int:
        """Cancel the streams of every token `known` no longer accepts; how many were cut."""
        cut = 0
        for token_hash in [h for h in self._by_token if not known(h)]:
            for call, task in self._by_token.pop(token_hash):
                call.revoked = True
                task.cancel()
                cut += 1
        return cut


class _EventStream(web.StreamResponse):
    """An SSE response whose headers leave with its first chunk: one write instead of two.

    aiohttp has no public switch for this (its own `web.Response` sets the same attribute); the
    version is pinned and tests/test_unit_streaming.py fails if an upgrade stops honouring it.
    """

    _send_headers_immediately = False


async def relay_stream(
    request: web.Request, call: Call, upstream: UpstreamResponse, streams: OpenStreams, guard: BudgetGuard
) -> web.StreamResponse:
    unmasker = StreamUnmasker(call.vault) if call.vault is not None else None
    relay = call.adapter.relay(unmasker, bool(call.detail.get("usage_injected")))
    resp = _EventStream(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **call.headers()})
    status = 200
    task = asyncio.current_task()
    assert task is not None and call.principal is not None
    token_hash = call.principal.token_hash
    entry = (call, task)
    streams.add(token_hash, entry)
    first = True
    last = b""  # the stream's final bytes go out together with the chunked terminator
    try:
        await resp.prepare(request)
        try:
            async for chunk in upstream.chunks():
                out = relay.feed(chunk)
                if out and first:
                    metrics.LLM_TTFT.labels(call.model).observe(time.perf_counter() - call.t0)
                    first = False
                if relay.done or relay.failed:
                    last = out
                    break
                if out:
                    # write() waits for the socket to drain: back-pressure reaches the provider.
                    await resp.write(out)
            tail = relay.finish()
        except TimeoutError:
            tail = relay.abort("the model provider stopped sending (read timeout)")
        except aiohttp.ClientError:
            tail = relay.finish()
        except asyncio.CancelledError:
            if not call.revoked:
                raise
            task.uncancel()
            tail = relay.abort("the agent's token was revoked")
        await resp.write_eof(last + tail)
    except asyncio.CancelledError:
        status = CLIENT_CLOSED  # the client went away: charge what was generated, then stop
        raise
    except ConnectionResetError:
        status = CLIENT_CLOSED  # gone between two writes: nothing more can reach it
    finally:
        upstream.close()
        streams.discard(token_hash, entry)
        account(call, stream_outcome(call, relay, status), guard)
    return resp


def stream_outcome(call: Call, relay: EventRelay, status: int) -> Outcome:
    """Tokens from the provider's usage event, else the prompt estimate and the text relayed."""
    usage = relay.usage()
    if usage is not None:
        tokens_in, tokens_out = usage
    else:
        tokens_in = call.prompt_estimate
        tokens_out = count_text(call.route.enc, relay.generated_text()) if call.route else 0
    reason = "revoked" if call.revoked else ("stream_error" if relay.failed else None)
    return Outcome(status, tokens_in, tokens_out, reason)
