"""Provider adapters: how a validated request reaches a model and how its bytes come back.

Both adapters hand the LLM door the same thing, an `UpstreamResponse` of status and raw body
bytes, so relaying, accounting and error mapping have a single code path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import aiohttp
import tiktoken

from config.schema import Limits, MockSettings, Provider
from gateway import mock
from gateway.errors import ApiError


class UpstreamResponse(Protocol):
    status: int
    content_type: str

    async def read(self) -> bytes: ...
    def chunks(self) -> AsyncIterator[bytes]: ...
    def close(self) -> None: ...


class Upstream(Protocol):
    async def open(
        self, path: str, payload: dict[str, Any], body: bytes, request_id: str, headers: Mapping[str, str]
    ) -> UpstreamResponse: ...


class HttpResponse:
    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.content_type = resp.content_type

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise upstream_failure(e) from None
        finally:
            self._resp.release()

    def chunks(self) -> AsyncIterator[bytes]:
        return self._resp.content.iter_any()

    def close(self) -> None:
        # close(), not release(): a half-read stream must not go back to the pool, and closing
        # the socket is how the provider learns that the client went away.
        self._resp.close()


def upstream_failure(e: BaseException) -> ApiError:
    if isinstance(e, TimeoutError):
        return ApiError(504, "the model provider did not answer in time", "upstream_timeout", "upstream_timeout")
    return ApiError(502, "the model provider could not be reached", "upstream_error", "upstream_unreachable")


class HttpUpstream:
    """Any OpenAI-compatible base URL (OpenAI, Azure-style deployments, vLLM, Ollama), or the
    Messages API of an `anthropic` provider (its key goes in `x-api-key`, paths under /v1)."""

    def __init__(self, provider: Provider, session: aiohttp.ClientSession, limits: Limits) -> None:
        assert provider.base_url
        self._base = provider.base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if provider.kind == "anthropic":
            self._base += "/v1"  # Anthropic's base URLs, as its SDKs take them, stop before /v1
            if provider.api_key:
                self._headers["x-api-key"] = provider.api_key
        elif provider.api_key:
            self._headers["Authorization"] = f"Bearer {provider.api_key}"
        self._session = session
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=limits.upstream_connect_timeout_s, sock_read=limits.upstream_read_timeout_s
        )

    async def open(
        self, path: str, payload: dict[str, Any], body: bytes, request_id: str, headers: Mapping[str, str]
    ) -> HttpResponse:
        # Headers are built here from provider settings and the protocol's few pass-through headers
        # (anthropic-version): nothing else the agent sent, its token above all, reaches the provider.
        headers = {**headers, **self._headers, "X-Request-Id": request_id}
        try:
            resp = await self._session.post(
                self._base + path, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise upstream_failure(e) from None
        return HttpResponse(resp)


class MockResponse:
    def __init__(self, parts: list[bytes], content_type: str, settings: MockSettings) -> None:
        self.status = 200
        self.content_type = content_type
        self._parts = parts
        self._settings = settings

    async def read(self) -> bytes:
        if self._settings.latency_ms:
            await asyncio.sleep(self._settings.latency_ms / 1000)
        return b"".join(self._parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._settings.latency_ms:
            await asyncio.sleep(self._settings.latency_ms / 1000)
        delay = self._settings.chunk_delay_ms / 1000
        for i, part in enumerate(self._parts):
            if delay and i:
                await asyncio.sleep(delay)
            yield part

    def close(self) -> None:
        return None


class MockUpstream:
    def __init__(self, provider: Provider, enc_for: Any) -> None:
        self._settings = provider.mock
        self._enc_for: Any = enc_for

    async def open(
        self, path: str, payload: dict[str, Any], body: bytes, request_id: str, headers: Mapping[str, str]
    ) -> MockResponse:
        model = str(payload["model"])
        enc: tiktoken.Encoding = self._enc_for(model)
        streams = {"/chat/completions": mock.chat_stream, "/responses": mock.responses_stream,
                   "/messages": mock.messages_stream}  # fmt: skip
        if payload.get("stream") and path in streams:
            events = streams[path](payload, model, enc, self._settings.chunks)
            return MockResponse(events, "text/event-stream", self._settings)
        if path == "/chat/completions":
            parts = [mock.chat_completion(payload, model, enc)]
        elif path == "/responses":
            parts = [mock.response(payload, model, enc)]
        elif path == "/messages":
            parts = [mock.message(payload, model, enc)]
        elif path == "/completions":
            parts = [mock.text_completion(payload, model, enc)]
        else:
            parts = [mock.embeddings(payload, model, enc, self._settings.embedding_dims)]
        return MockResponse(parts, "application/json", self._settings)
