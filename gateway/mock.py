"""The built-in `mock` provider's replies: deterministic, in the wire formats of Chat Completions,
the Responses API and the Messages API, usage included.

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
from gateway.tokenizer import count_request, count_text
from pii.walk import CHAT, COMPLETIONS, EMBEDDINGS, MESSAGES, RESPONSES, json_output, request_slots


def reply_text(messages: list[Any]) -> str:
    last = ""
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "user":
            last = "\n".join(s.text for s in request_slots(CHAT, {"messages": [{"content": m.get("content")}]}))
    return f"Mock reply to: {last}" if last else "Mock reply."


def _as_asked(payload: dict[str, Any], text: str) -> str:
    """The reply's text, as a JSON object (`{"reply": …}`) when the request asks for JSON output."""
    return orjson.dumps({"reply": text}).decode() if json_output(CHAT, payload) else text


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
    text, finish = _limit(payload, _as_asked(payload, reply_text(messages)), enc)
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
            "usage": _usage(count_request(enc, CHAT, payload), completion),
        }
    )


def chat_stream(payload: dict[str, Any], model: str, enc: tiktoken.Encoding, chunks: int) -> list[bytes]:
    """The SSE events of a streamed chat reply, `[DONE]` included."""
    messages = payload["messages"]
    text, finish = _limit(payload, _as_asked(payload, reply_text(messages)), enc)
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
            "usage": _usage(count_request(enc, CHAT, payload), completion),
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
            "usage": _usage(count_request(enc, COMPLETIONS, payload), count_text(enc, text)),
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
    tokens = count_request(enc, EMBEDDINGS, payload)
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


# -- the Responses API and the Messages API ------------------------------------------------------
#
# The same behaviour in both: a tool's result is answered in text (so an agent's tool loop ends);
# otherwise, when function tools are given, the first one is called with the last user text as
# {"input": text}; otherwise that text is echoed ("Mock reply to: …"). Usage counts the prompt
# the way the LLM door estimates it.


def _capped(text: str, cap: Any, enc: tiktoken.Encoding) -> tuple[str, bool]:
    """`text` cut to `cap` tokens; True when it was cut."""
    if isinstance(cap, int) and cap > 0:
        tokens = enc.encode(text, disallowed_special=())
        if len(tokens) > cap:
            return enc.decode(tokens[:cap]), True
    return text, False


def _parts_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else ()
    return "\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _turn(
    last: str, answered: bool, tool: str | None, cap: Any, enc: tiktoken.Encoding
) -> tuple[str, str | None, bool]:
    """(text, tool to call or None, cut by the output cap)."""
    text, cut = _capped(f"Mock reply to: {last}" if last else "Mock reply.", cap, enc)
    return text, (tool if not answered else None), cut


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _responses_turn(payload: dict[str, Any], enc: tiktoken.Encoding) -> tuple[str, str | None, bool]:
    items = payload["input"]
    last, answered = (items, False) if isinstance(items, str) else ("", False)
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output":
            last, answered = _parts_text(item.get("output")), True
        elif item.get("type", "message") == "message" and item.get("role") == "user":
            last, answered = _parts_text(item.get("content")), False
    tools = [t for t in payload.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"]
    tool = str(tools[0].get("name", "tool")) if tools and payload.get("tool_choice") != "none" else None
    return _turn(last, answered, tool, payload.get("max_output_tokens"), enc)


def _responses_output(payload: dict[str, Any], enc: tiktoken.Encoding) -> tuple[dict[str, Any], str, int]:
    """The one output item, the response status, and the output tokens."""
    text, tool, cut = _responses_turn(payload, enc)
    if tool:
        arguments = orjson.dumps({"input": text}).decode()
        item: dict[str, Any] = {"type": "function_call", "id": "fc_" + _digest(text),
                                "call_id": "call_" + _digest(text), "name": tool, "arguments": arguments,
                                "status": "completed"}  # fmt: skip
        return item, "completed", count_text(enc, arguments)
    item = {"type": "message", "id": "msg_" + _digest(text), "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}  # fmt: skip
    return item, "incomplete" if cut else "completed", count_text(enc, text)


def _response_object(
    payload: dict[str, Any], model: str, status: str, output: list[Any], usage: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": "resp_mock", "object": "response", "created_at": int(time.time()), "status": status, "model": model,
        "output": output, "usage": usage, "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": payload.get("instructions"), "max_output_tokens": payload.get("max_output_tokens"),
        "metadata": {}, "parallel_tool_calls": True, "temperature": 1.0, "top_p": 1.0, "tool_choice": "auto",
        "tools": payload.get("tools") or [], "store": payload.get("store", True),
    }  # fmt: skip


def _responses_usage(payload: dict[str, Any], enc: tiktoken.Encoding, completion: int) -> dict[str, Any]:
    prompt = count_request(enc, RESPONSES, payload)
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": prompt + completion}  # fmt: skip


def response(payload: dict[str, Any], model: str, enc: tiktoken.Encoding) -> bytes:
    item, status, completion = _responses_output(payload, enc)
    return orjson.dumps(_response_object(payload, model, status, [item], _responses_usage(payload, enc, completion)))


def responses_stream(payload: dict[str, Any], model: str, enc: tiktoken.Encoding, chunks: int) -> list[bytes]:
    """The typed events of a streamed Responses reply, `response.completed` last."""
    item, status, completion = _responses_output(payload, enc)
    out: list[bytes] = []

    def event(type_: str, **fields: Any) -> None:
        body = {"type": type_, "sequence_number": len(out), **fields}
        out.append(encode_event(orjson.dumps(body), type_.encode()))

    pending = _response_object(payload, model, "in_progress", [], None)
    event("response.created", response=pending)
    event("response.in_progress", response=pending)
    ids = {"item_id": item["id"], "output_index": 0}
    if item["type"] == "function_call":
        event("response.output_item.added", output_index=0, item={**item, "arguments": "", "status": "in_progress"})
        for piece in _split(item["arguments"], chunks):
            event("response.function_call_arguments.delta", **ids, delta=piece)
        event("response.function_call_arguments.done", **ids, name=item["name"], arguments=item["arguments"])
    else:
        text = item["content"][0]["text"]
        event("response.output_item.added", output_index=0, item={**item, "content": [], "status": "in_progress"})
        empty = {"type": "output_text", "text": "", "annotations": []}
        event("response.content_part.added", **ids, content_index=0, part=empty)
        for piece in _split(text, chunks):
            event("response.output_text.delta", **ids, content_index=0, delta=piece, logprobs=[])
        event("response.output_text.done", **ids, content_index=0, text=text, logprobs=[])
        event("response.content_part.done", **ids, content_index=0, part=item["content"][0])
    event("response.output_item.done", output_index=0, item=item)
    usage = _responses_usage(payload, enc, completion)
    end = "response.completed" if status == "completed" else "response.incomplete"
    event(end, response=_response_object(payload, model, status, [item], usage))
    return out


def _messages_turn(payload: dict[str, Any], enc: tiktoken.Encoding) -> tuple[str, str | None, bool]:
    last, answered = "", False
    for m in payload["messages"]:
        if not isinstance(m, dict) or m.get("role") != "user":
            continue
        content = m.get("content")
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(
            content, list) else []  # fmt: skip
        if results:
            last, answered = _parts_text(results[-1].get("content")), True
        else:
            last, answered = _parts_text(content), False
    tools = [t for t in payload.get("tools") or () if isinstance(t, dict) and "name" in t]
    choice = payload.get("tool_choice")
    tool = str(tools[0]["name"]) if tools and not (isinstance(choice, dict) and choice.get("type") == "none") else None
    return _turn(last, answered, tool, payload.get("max_tokens"), enc)


def _message_content(payload: dict[str, Any], enc: tiktoken.Encoding) -> tuple[dict[str, Any], str, int]:
    """The one content block, the stop reason, and the output tokens."""
    text, tool, cut = _messages_turn(payload, enc)
    if tool:
        block = {"type": "tool_use", "id": "toolu_" + _digest(text), "name": tool, "input": {"input": text}}
        return block, "tool_use", count_text(enc, orjson.dumps(block["input"]).decode())
    return {"type": "text", "text": text}, "max_tokens" if cut else "end_turn", count_text(enc, text)


def _message_object(model: str, content: list[Any], stop: str | None, usage: dict[str, int]) -> dict[str, Any]:
    return {"id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop, "stop_sequence": None, "usage": usage}  # fmt: skip


def message(payload: dict[str, Any], model: str, enc: tiktoken.Encoding) -> bytes:
    block, stop, completion = _message_content(payload, enc)
    prompt = count_request(enc, MESSAGES, payload)
    return orjson.dumps(_message_object(model, [block], stop, {"input_tokens": prompt, "output_tokens": completion}))


def messages_stream(payload: dict[str, Any], model: str, enc: tiktoken.Encoding, chunks: int) -> list[bytes]:
    """The events of a streamed Messages reply, `message_stop` last."""
    block, stop, completion = _message_content(payload, enc)
    prompt = count_request(enc, MESSAGES, payload)
    out: list[bytes] = []

    def event(type_: str, **fields: Any) -> None:
        out.append(encode_event(orjson.dumps({"type": type_, **fields}), type_.encode()))

    event("message_start", message=_message_object(model, [], None, {"input_tokens": prompt, "output_tokens": 1}))
    if block["type"] == "tool_use":
        event("content_block_start", index=0, content_block={**block, "input": {}})
        event("ping")
        for piece in _split(orjson.dumps(block["input"]).decode(), chunks):
            event("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": piece})
    else:
        event("content_block_start", index=0, content_block={"type": "text", "text": ""})
        event("ping")
        for piece in _split(block["text"], chunks):
            event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
    event("content_block_stop", index=0)
    event("message_delta", delta={"stop_reason": stop, "stop_sequence": None}, usage={"output_tokens": completion})
    event("message_stop")
    return out
