"""The built-in `mock` provider's replies: deterministic, OpenAI wire format, usage included.

Pure functions from a request payload to the bytes an OpenAI-compatible server would send, so
the LLM door relays mock replies through exactly the code path real providers take. The test
suite's stand-in upstream server serves the same functions over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from typing import Any

import orjson
import tiktoken

from gateway.sse import encode_event
from gateway.tokenizer import count_chat_prompt, count_prompt_input, count_text, iter_message_text


def reply_text(messages: list[Any]) -> str:
    last = ""
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "user":
            last = "\n".join(iter_message_text([{"content": m.get("content")}]))
    return f"Mock reply to: {last}" if last else "Mock reply."


def _limit(payload: dict[str, Any], text: str, enc: tiktoken.Encoding) -> tuple[str, str]:
    cap = payload.get("max_completion_tokens") or payload.get("max_tokens")
    if isinstance(cap, int) and cap > 0:
        tokens = enc.encode(text, disallowed_special=())
        if len(tokens) > cap:
            return enc.decode(tokens[:cap]), "length"
    return text, "stop"


def _tool_call(payload: dict[str, Any], text: str) -> dict[str, Any] | None:
    tools = payload.get("tools")
    if not tools or payload.get("tool_choice") == "none":
        return None
    fn = tools[0].get("function", {}) if isinstance(tools[0], dict) else {}
    return {
        "id": "call_" + hashlib.sha256(text.encode()).hexdigest()[:24],
        "type": "function",
        "function": {"name": str(fn.get("name", "tool")), "arguments": orjson.dumps({"input": text}).decode()},
    }


def _split(text: str, n: int) -> list[str]:
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _choices(payload: dict[str, Any]) -> int:
    n = payload.get("n")
    return n if isinstance(n, int) and n > 0 else 1


def chat_completion(payload: dict[str, Any], model: str, enc: tiktoken.Encoding) -> bytes:
    messages = payload["messages"]
    text, finish = _limit(payload, reply_text(messages), enc)
    call = _tool_call(payload, text)
    message: dict[str, Any] = {"role": "assistant", "content": None if call else text}
    if call:
        message["tool_calls"] = [call]
        finish = "tool_calls"
    n = _choices(payload)
    completion = count_text(enc, call["function"]["arguments"] if call else text) * n
    return orjson.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": i, "message": message, "finish_reason": finish, "logprobs": None} for i in range(n)],
            "usage": _usage(count_chat_prompt(enc, messages), completion),
        }
    )


def chat_stream(payload: dict[str, Any], model: str, enc: tiktoken.Encoding, chunks: int) -> list[bytes]:
    """The SSE events of a streamed chat reply, `[DONE]` included."""
    messages = payload["messages"]
    text, finish = _limit(payload, reply_text(messages), enc)
    call = _tool_call(payload, text)
    created = int(time.time())
    n = _choices(payload)

    def event(i: int, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        chunk = {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": i, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        return encode_event(orjson.dumps(chunk))

    out: list[bytes] = []
    for i in range(n):
        if call:
            fn = call["function"]
            head = {"index": 0, "id": call["id"], "type": "function", "function": {"name": fn["name"], "arguments": ""}}
            out.append(event(i, {"role": "assistant", "content": None, "tool_calls": [head]}))
            for piece in _split(fn["arguments"], chunks):
                out.append(event(i, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            out.append(event(i, {"role": "assistant", "content": ""}))
            out.extend(event(i, {"content": piece}) for piece in _split(text, chunks))
        out.append(event(i, {}, "tool_calls" if call else finish))
    options = payload.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        completion = count_text(enc, call["function"]["arguments"] if call else text) * n
        usage = {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": _usage(count_chat_prompt(enc, messages), completion),
        }
        out.append(encode_event(orjson.dumps(usage)))
    out.append(encode_event(b"[DONE]"))
    return out


def text_completion(payload: dict[str, Any], model: str, enc: tiktoken.Encoding) -> bytes:
    prompt = payload["prompt"]
    first = prompt if isinstance(prompt, str) else str(prompt[0]) if prompt else ""
    text, finish = _limit(payload, f"Mock completion of: {first}", enc)
    return orjson.dumps(
        {
            "id": "cmpl-mock",
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(count_prompt_input(enc, prompt), count_text(enc, text)),
        }
    )


def embeddings(payload: dict[str, Any], model: str, enc: tiktoken.Encoding, dims: int) -> bytes:
    value = payload["input"]
    inputs = [value] if isinstance(value, str) or (value and isinstance(value[0], int)) else list(value)
    data = []
    for i, item in enumerate(inputs):
        seed = hashlib.sha256(orjson.dumps(item)).digest()
        raw = (seed * (dims * 4 // len(seed) + 1))[: dims * 4]
        # Deterministic floats in [-1, 1): the same input always embeds to the same vector.
        vector = [(x / 2**31) - 1.0 for x in struct.unpack(f"<{dims}I", raw)]
        embedding: Any = vector
        if payload.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    tokens = count_prompt_input(enc, value)
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
