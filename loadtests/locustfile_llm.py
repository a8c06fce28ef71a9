"""Locust users for tollgate's LLM door: chat (non-stream), chat (stream) and embeddings.

Locust is not a dependency of tollgate; use any venv:

    python -m venv /tmp/locust && /tmp/locust/bin/pip install locust
    /tmp/locust/bin/locust -f loadtests/locustfile_llm.py --headless -u 32 -r 8 -t 60s

Environment (defaults match config/demo.yaml):

    TOLLGATE_URL          http://127.0.0.1:8080   LLM door base URL (a trailing /v1 is accepted)
    TOLLGATE_TOKEN        tg-demo-local-only-not-a-secret
    TOLLGATE_MODEL        mock-gpt                 chat model
    TOLLGATE_EMBED_MODEL  mock-embed               embedding model
    TOLLGATE_MAX_TOKENS   64
    TOLLGATE_WAIT_S       0                        pause between a user's requests (0: closed loop)

Two user classes, picked by weight (3:1) or by name on the command line:
`ChatUser` (FastHttpUser: chat non-stream x3, embeddings x1) and `StreamUser` (HttpUser:
streaming chat). Streams report three rows: the POST itself (time to the response headers),
`stream TTFT` (first `data:` event) and `stream total` (to `data: [DONE]`). A 200 whose body
is not what an OpenAI client needs (no content, no usage, no [DONE]) counts as a failure.

config/demo.yaml gives the demo team a $5 daily budget: against the demo's mock prices a
closed-loop run reaches it in seconds and then gets HTTP 429 `team_daily` (listed under
failures). For throughput runs use a config without budgets (see loadtests/bench_llm.py).
"""

from __future__ import annotations

import json
import os
import time

from locust import FastHttpUser, HttpUser, constant, task

BASE_URL = os.environ.get("TOLLGATE_URL", "http://127.0.0.1:8080").rstrip("/").removesuffix("/v1")
TOKEN = os.environ.get("TOLLGATE_TOKEN", "tg-demo-local-only-not-a-secret")
MODEL = os.environ.get("TOLLGATE_MODEL", "mock-gpt")
EMBED_MODEL = os.environ.get("TOLLGATE_EMBED_MODEL", "mock-embed")
MAX_TOKENS = int(os.environ.get("TOLLGATE_MAX_TOKENS", "64"))
WAIT_S = float(os.environ.get("TOLLGATE_WAIT_S", "0"))

HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
PROMPT = (
    "Classify this support message as billing, bug, feature_request or other and suggest a short "
    "polite reply. Message: 'Since yesterday the export button on the reports page does nothing, "
    "and my invoice for this month looks higher than usual. Can you check both? Thanks, Dana.'"
)
MESSAGES = [
    {"role": "system", "content": "You are a concise, helpful assistant."},
    {"role": "user", "content": PROMPT},
]
CHAT_BODY = {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS, "temperature": 0.2}
STREAM_BODY = {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}}
EMBED_BODY = {"model": EMBED_MODEL, "input": [PROMPT[:120], PROMPT[120:]]}


def _error_text(resp) -> str:
    try:
        err = json.loads(resp.content or b"{}").get("error") or {}
        return f"HTTP {resp.status_code}: {err.get('code') or err.get('type')}: {err.get('message')}"
    except (ValueError, AttributeError):
        return f"HTTP {resp.status_code}"


class ChatUser(FastHttpUser):
    """Non-streaming chat completions and embeddings."""

    host = BASE_URL
    weight = 3
    wait_time = constant(WAIT_S)

    @task(3)
    def chat(self) -> None:
        with self.client.post(
            "/v1/chat/completions", json=CHAT_BODY, headers=HEADERS, name="chat", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(_error_text(resp))
                return
            try:
                body = json.loads(resp.content)
                content = body["choices"][0]["message"]["content"]
                usage = body["usage"]["total_tokens"]
            except (ValueError, KeyError, IndexError, TypeError) as e:
                resp.failure(f"malformed chat reply: {e!r}")
                return
            if not content or not usage:
                resp.failure("chat reply without content or usage")

    @task(1)
    def embeddings(self) -> None:
        with self.client.post(
            "/v1/embeddings", json=EMBED_BODY, headers=HEADERS, name="embeddings", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(_error_text(resp))
                return
            try:
                data = json.loads(resp.content)["data"]
                ok = len(data) == len(EMBED_BODY["input"]) and all(d["embedding"] for d in data)
            except (ValueError, KeyError, TypeError) as e:
                resp.failure(f"malformed embeddings reply: {e!r}")
                return
            if not ok:
                resp.failure("embeddings reply with missing vectors")


class StreamUser(HttpUser):
    """Streaming chat completions (SSE), with time to first token and to [DONE]."""

    host = BASE_URL
    weight = 1
    wait_time = constant(WAIT_S)

    def _report(self, name: str, ms: float, length: int, exc: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="SSE", name=name, response_time=ms, response_length=length, exception=exc, context={}
        )

    @task
    def chat_stream(self) -> None:
        t0 = time.perf_counter()
        first = None
        content, usage, done, size = [], None, False, 0
        with self.client.post(
            "/v1/chat/completions",
            json=STREAM_BODY,
            headers=HEADERS,
            name="chat stream (headers)",
            stream=True,
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(_error_text(resp))
                return
            try:
                buf = b""
                # chunk_size=None: data as it arrives (a fixed size would wait for that many bytes)
                for chunk in resp.iter_content(chunk_size=None):
                    size += len(chunk)
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        line = line.strip()
                        if not line.startswith(b"data:"):
                            continue
                        if first is None:
                            first = time.perf_counter()
                        data = line[5:].strip()
                        if data == b"[DONE]":
                            done = True
                            continue
                        event = json.loads(data)
                        if "error" in event:
                            raise ValueError(f"error event: {event['error']}")
                        for choice in event.get("choices") or []:
                            content.append((choice.get("delta") or {}).get("content") or "")
                        if event.get("usage"):
                            usage = event["usage"].get("total_tokens")
            except Exception as e:
                resp.failure(f"stream broken: {e!r}")
                self._report("stream total", (time.perf_counter() - t0) * 1000, size, e)
                return
            total_ms = (time.perf_counter() - t0) * 1000
            problem = None
            if not done:
                problem = "stream ended without data: [DONE]"
            elif not "".join(content):
                problem = "stream without content"
            elif usage is None:
                problem = "stream without a usage chunk (stream_options.include_usage was sent)"
            if problem:
                resp.failure(problem)
                self._report("stream total", total_ms, size, ValueError(problem))
                return
            resp.success()
            self._report("stream TTFT", (first - t0) * 1000, 0)
            self._report("stream total", total_ms, size)
