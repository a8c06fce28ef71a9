r"""A local provider for tests: it records what it received and can misbehave.

It speaks Chat Completions, Completions, Embeddings and the Responses API under /v1 (an `openai`
provider's base URL) and the Messages API at /v1/messages (an `anthropic` provider's base URL is
the server's root), serving tollgate's own mock replies (gateway.mock) over real HTTP on
loopback, in a thread with its own event loop, so synchronous clients in tests can call tollgate
while it runs. Behaviour is chosen by the requested model name (a `claude-` prefix is ignored,
so the Anthropic provider's models can misbehave the same ways):

- `slow-<ms>`: wait before answering (timeouts)
- `error-<status>`: answer with that status and an OpenAI error body
- `html-<status>`: answer with that status and an HTML body
- `cut`: stream two chunks, then close the connection without `[DONE]`
- `garbage`: stream one chunk, then a non-JSON data line
- `drip`: stream a text delta every 50 ms, 200 of them (disconnect and flow tests)
- `nousage`: stream without the usage chunk even when asked
- `charwise`: stream one character per chunk, each event written in two halves
- `goenc`: tool-call JSON encoded the way Go's encoder does it (`<` as `\u003c`, `>` as `\u003e`, `&`
  as `\u0026`; Ollama, several vLLM front ends): chat and Responses arguments, Messages tool inputs;
  streamed three characters a delta, so escapes are split across events
- `hexenc`: the same, but every character of a placeholder escaped, hex digits upper case
  (`\u003C\u0045\u004D…`). Both escape a chat reply's content too when the request asks for JSON
  output (`response_format`).
- anything else: a normal mock reply
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
from aiohttp import web

from gateway import mock
from gateway.sse import encode_event
from gateway.tokenizer import encoding
from pii import PLACEHOLDER_RE
from pii.walk import json_output

ENC = encoding("o200k_base")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Recorder:
    requests: list[Received] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)
    finished_streams: list[str] = field(default_factory=list)

    def last(self) -> Received:
        return self.requests[-1]

    def clear(self) -> None:
        self.requests.clear()
        self.disconnects.clear()
        self.finished_streams.clear()


def _escape(text: str, model: str) -> str:
    """JSON text with its placeholders' characters escaped as `model` (goenc, hexenc) does it."""
    if model == "goenc":
        return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return PLACEHOLDER_RE.sub(lambda m: "".join(f"\\u{ord(c):04X}" for c in m.group(0)), text)


def _escaped_reply(body: bytes, path: str, model: str, json_content: bool) -> bytes:
    """A whole reply with escaped tool-call JSON: inside the arguments' text (chat, Responses), or
    in the body itself, where a Messages tool input is a JSON object."""
    if path == "/messages":
        return _escape(body.decode(), model).encode()
    reply = orjson.loads(body)
    for choice in reply.get("choices") or ():
        if json_content and choice["message"]["content"]:
            choice["message"]["content"] = _escape(choice["message"]["content"], model)
        for call in choice["message"].get("tool_calls") or ():
            call["function"]["arguments"] = _escape(call["function"]["arguments"], model)
    for item in reply.get("output") or ():
        if item["type"] == "function_call":
            item["arguments"] = _escape(item["arguments"], model)
    return orjson.dumps(reply)


def _json_delta(obj: dict[str, Any], json_content: bool) -> tuple[dict[str, Any], str] | None:
    """Where a stream event carries a piece of tool-call JSON, or of JSON content: (its dict, its key)."""
    if obj.get("type") == "response.function_call_arguments.delta":
        return obj, "delta"
    delta = obj.get("delta")
    if obj.get("type") == "content_block_delta" and delta["type"] == "input_json_delta":
        return delta, "partial_json"
    delta = (obj.get("choices") or [{}])[0].get("delta") or {}
    calls = delta.get("tool_calls") or []
    if calls and "id" not in calls[0]:
        return calls[0]["function"], "arguments"
    return (delta, "content") if json_content and delta.get("content") else None


def _escaped_stream(events: list[bytes], model: str, json_content: bool) -> list[bytes]:
    """The JSON text escaped, then re-cut three characters a delta, so escapes are split too."""
    out: list[bytes] = []
    for event in events:
        head, _, data = event.partition(b"data: ")
        obj = orjson.loads(data) if not data.startswith(b"[DONE]") else {}
        found = _json_delta(obj, json_content)
        if not found:
            out.append(event)
            continue
        holder, key = found
        escaped = _escape(holder[key], model)
        name = head.removeprefix(b"event: ").strip() or None
        for k in range(0, len(escaped), 3):
            holder[key] = escaped[k : k + 3]
            out.append(encode_event(orjson.dumps(obj), name))
    return out


def _chunk(text: str, path: str = "/chat/completions") -> bytes:
    """One event carrying a piece of generated text, in the protocol of `path`."""
    if path == "/responses":
        obj = {"type": "response.output_text.delta", "item_id": "msg_x", "output_index": 0, "content_index": 0,
               "delta": text, "sequence_number": 0}  # fmt: skip
        return encode_event(orjson.dumps(obj), b"response.output_text.delta")
    if path == "/messages":
        obj = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        return encode_event(orjson.dumps(obj), b"content_block_delta")
    obj = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
           "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}  # fmt: skip
    return encode_event(orjson.dumps(obj))


_ESCAPING = ("goenc", "hexenc")
_STREAMS = {
    "/chat/completions": mock.chat_stream, "/responses": mock.responses_stream, "/messages": mock.messages_stream,
}  # fmt: skip
_REPLIES = {"/chat/completions": mock.chat_completion, "/responses": mock.response, "/messages": mock.message}


class LoopbackServer:
    """An aiohttp app on 127.0.0.1 in a thread of its own, so synchronous test clients can call it."""

    ssl_context: ssl.SSLContext | None = None

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app(), handler_cancellation=True)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, ssl_context=self.ssl_context).start()


class Upstream(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.recorder = Recorder()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/{path:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        payload = orjson.loads(await request.read())
        path = "/" + request.match_info["path"]
        self.recorder.requests.append(Received(path, {k.lower(): v for k, v in request.headers.items()}, payload))
        model = str(payload.get("model", "")).removeprefix("claude-")
        if model.startswith("slow-"):
            await asyncio.sleep(int(model[5:]) / 1000)
        if model.startswith("error-"):
            status = int(model[6:])
            error = {"message": f"upstream says {status}", "type": "upstream_test"}
            body = {"type": "error", "error": error} if path == "/messages" else {"error": {**error, "code": None}}
            return web.json_response(body, status=status)
        if model.startswith("html-"):
            return web.Response(status=int(model[5:]), text="<html>bad gateway</html>", content_type="text/html")
        if path == "/embeddings":
            return web.Response(body=mock.embeddings(payload, model, ENC, 8), content_type="application/json")
        if path == "/completions":
            return web.Response(body=mock.text_completion(payload, model, ENC), content_type="application/json")
        if not payload.get("stream"):
            body = _REPLIES[path](payload, model, ENC)
            if model in _ESCAPING:
                body = _escaped_reply(body, path, model, json_output(path, payload))
            return web.Response(body=body, content_type="application/json")
        return await self._stream(request, path, payload, model)

    async def _stream(self, request: web.Request, path: str, payload: dict[str, Any], model: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        rid = request.headers.get("x-request-id", "")
        try:
            if model == "cut":
                await resp.write(_chunk("one ", path) + _chunk("two ", path))
                await asyncio.sleep(0.05)
                assert request.transport is not None
                request.transport.close()
                return resp
            if model == "garbage":
                await resp.write(_chunk("fine ", path) + b"data: {not json\n\n")
                await asyncio.sleep(0.05)
                await resp.write(_chunk("never relayed", path))
                return resp
            if model == "drip":
                for i in range(200):
                    await resp.write(_chunk(f"drop{i} ", path))
                    await asyncio.sleep(0.05)
                await resp.write(encode_event(b"[DONE]"))
                self.recorder.finished_streams.append(rid)
                return resp
            events = _STREAMS[path](
                payload, model, ENC, 10_000 if model == "charwise" else 1 if model in _ESCAPING else 4
            )
            if model == "nousage":
                events = [e for e in events if b'"usage"' not in e]
            if model in _ESCAPING:
                events = _escaped_stream(events, model, json_output(path, payload))
            for event in events:
                if model == "charwise":
                    await resp.write(event[: len(event) // 2])
                    await asyncio.sleep(0)
                    event = event[len(event) // 2 :]
                await resp.write(event)
            self.recorder.finished_streams.append(rid)
            return resp
        except (asyncio.CancelledError, ConnectionResetError):
            self.recorder.disconnects.append(rid)
            raise


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Ports handed out below the kernel's ephemeral range: bind(0) and every outgoing connection take
# theirs from that range, so a port found free here stays free until the server under test binds
# it (a port from bind(0) could be taken in between by a connection to Redis or PostgreSQL). A
# random starting point keeps a second run beside this one out of its way.
_LOW = 10_000
_EPHEMERAL_START = _ephemeral_start()
_OWN_PORTS: Iterator[int] = (
    itertools.islice(itertools.cycle(range(_LOW, _EPHEMERAL_START)), random.randrange(_EPHEMERAL_START - _LOW), None)
    if _EPHEMERAL_START > _LOW + 2_000
    else iter(())
)


def free_port() -> int:
    for port in itertools.islice(_OWN_PORTS, 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use, or lingering after an earlier test: the next one
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def read_drips_then_hang_up(base_url: str, path: str, payload: dict[str, Any], token: str) -> bytes:
    """POST a streaming `drip` request over a raw socket, read three drops, and close the socket."""
    port = int(base_url.split(":")[2].split("/")[0])
    body = orjson.dumps(payload)
    request = (
        f"POST /v1{path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n".encode()
        + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        received = b""
        while received.count(b"drop") < 3:
            received += s.recv(65536)
    return received
