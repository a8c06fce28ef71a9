"""Every piece of text in the JSON of the five endpoints the LLM door serves, found by one walker.

Masking, unmasking (whole replies and streams), token counting and reply-text accounting all read
these slots, so a field is handled the same way everywhere: a message's `name` is counted, masked
and restored like its content, and a tool call's JSON text is treated as JSON wherever it appears.

- `request_slots`: what a request sends, in conversation order (placeholder numbers follow first
  appearance). Chat Completions: message contents (strings, text parts), `name`, assistant
  tool-call arguments (the deprecated `function_call`'s too), refusals. `/v1/completions`
  prompts, `/v1/embeddings` inputs. Responses: `instructions`, then `input` (a string, or items:
  message text parts, function and custom tool calls with their arguments and outputs, reasoning
  summaries). Messages: `system`, then each message's blocks (text, every string inside tool_use
  inputs, tool_result contents, thinking, plain-text documents). A Responses item or Messages
  block of a type not known here fails closed: every string in it is text, its ids, signatures
  and base64/encrypted payloads aside.
- `request_labels` and `request_items`: what a provider also reads but masking leaves alone (roles,
  names of called tools, tool definitions) and how many framed items there are, for counting.
- `reply_slots`: the same in a non-stream reply of any endpoint; a reply's text is JSON text when
  the request asked for JSON output (`json_output`), like tool-call arguments always are.
- `delta_slots`: the pieces of text in one stream event (a chat chunk, a Responses or Messages
  event), each with a stream key under which a streaming unmasker holds back a split placeholder.
- `whole_slots`: whole texts that stream events repeat (Responses `.done` and lifecycle events,
  Messages `message_start`/`content_block_start`): restored as they are, never held back.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

CHAT = "/chat/completions"
COMPLETIONS = "/completions"
EMBEDDINGS = "/embeddings"
RESPONSES = "/responses"
MESSAGES = "/messages"


@dataclass(slots=True)
class Slot:
    container: Any  # the dict or list holding the text
    key: Any
    json: bool = False  # the text is JSON (tool-call arguments): placeholders may come escaped
    name: bool = False  # a message name: providers accept only [A-Za-z0-9_-] there

    @property
    def text(self) -> str:
        return self.container[self.key]

    def set(self, value: str) -> None:
        self.container[self.key] = value


def _str(container: Any, key: str, json: bool = False, name: bool = False) -> Iterator[Slot]:
    if isinstance(container, dict) and isinstance(container.get(key), str):
        yield Slot(container, key, json, name)


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    for item in value if isinstance(value, list) else ():
        if isinstance(item, dict):
            yield item


# -- Chat Completions, completions, embeddings -----------------------------------------------


def _tool_calls(calls: Any) -> Iterator[tuple[int, Slot]]:
    """(index, arguments slot) of each tool call (`index` is what identifies one in a stream)."""
    for n, call in enumerate(calls if isinstance(calls, list) else ()):
        if isinstance(call, dict):
            for slot in _str(call.get("function"), "arguments", json=True):
                yield call.get("index", n), slot


def _chat_message(m: dict[str, Any], json_text: bool = False) -> Iterator[Slot]:
    """A request message or a reply's message: contents, refusal, name, tool-call arguments (and
    the deprecated single `function_call`'s). `json_text`: the content is JSON (a reply to a
    request for JSON output)."""
    content = m.get("content")
    if isinstance(content, str):
        yield Slot(m, "content", json_text)
    else:
        yield from _parts(content, json_text)
    yield from _str(m, "refusal")
    yield from _str(m, "name", name=True)
    for _, slot in _tool_calls(m.get("tool_calls")):
        yield slot
    yield from _str(m.get("function_call"), "arguments", json=True)


def _prompts(payload: dict[str, Any], key: str) -> Iterator[Slot]:
    """`prompt` or `input` of /v1/completions and /v1/embeddings: a string or a list of them
    (token-id lists carry no text)."""
    value = payload.get(key)
    if isinstance(value, str):
        yield Slot(payload, key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield Slot(value, i)


def _parts(parts: Any, json_text: bool = False) -> Iterator[Slot]:
    """The text of each part in a list of parts (other parts, e.g. images, carry no text)."""
    for part in _dicts(parts):
        yield from _str(part, "text", json_text)
        yield from _str(part, "refusal")


def _text_or(container: dict[str, Any], key: str, parts: Callable[[Any], Iterator[Slot]] = _parts) -> Iterator[Slot]:
    """`container[key]` when it is a string, else the slots `parts` finds in it."""
    if isinstance(container.get(key), str):
        yield Slot(container, key)
    else:
        yield from parts(container.get(key))


# -- the Responses API -------------------------------------------------------------------------


def _responses_item(item: dict[str, Any], json_text: bool = False) -> Iterator[Slot]:
    """One input or output item of the Responses API (requests and replies share the shapes)."""
    kind = item.get("type", "message")
    if kind == "message":
        yield from _text_or(item, "content", lambda parts: _parts(parts, json_text))
    elif kind == "function_call":
        yield from _str(item, "arguments", json=True)
    elif kind == "custom_tool_call":
        yield from _str(item, "input")
    elif kind in _OUTPUT_ITEMS:
        yield from _text_or(item, "output")
    elif kind == "reasoning":
        yield from _parts(item.get("summary"))
    # The built-in tools of coding agents (Codex): commands, their output, patches, MCP calls.
    elif kind in ("local_shell_call", "shell_call"):
        yield from json_leaves(item.get("action"))  # argv, commands, env values, working directory
    elif kind == "shell_call_output":
        for out in _dicts(item.get("output")):
            yield from _str(out, "stdout")
            yield from _str(out, "stderr")
    elif kind == "apply_patch_call":
        yield from _str(item.get("operation"), "diff")
    elif kind == "mcp_call":
        yield from _str(item, "arguments", json=True)
        yield from _str(item, "output")
    elif kind not in _OPAQUE_ITEMS:
        yield from _unknown(item)


_OUTPUT_ITEMS = frozenset(
    {"function_call_output", "custom_tool_call_output", "local_shell_call_output", "apply_patch_call_output"}
)
# Items that carry no text a person wrote: a reference by id, a generated image.
_OPAQUE_ITEMS = frozenset({"item_reference", "image_generation_call"})


def _responses_request(payload: dict[str, Any]) -> Iterator[Slot]:
    yield from _str(payload, "instructions")
    if isinstance(payload.get("input"), str):
        yield Slot(payload, "input")
        return
    for item in _dicts(payload.get("input")):
        yield from _responses_item(item)


# -- the Messages API --------------------------------------------------------------------------


def json_leaves(value: Any, skip: frozenset[str] = frozenset()) -> Iterator[Slot]:
    """Every string inside a JSON value (a tool call's `input` object), keys excepted, and the
    values of `skip` keys left out."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if key in skip:
            continue
        if isinstance(item, str):
            yield Slot(value, key)
        elif isinstance(item, dict | list):
            yield from json_leaves(item, skip)


# Fields that are protocol, not prose: ids that link a call to its result, signatures, encrypted
# or base64 payloads (masking a fragment of those would only corrupt them).
_STRUCTURAL = frozenset(
    {"type", "id", "call_id", "tool_use_id", "signature", "encrypted_content", "media_type", "status", "role",
     "data", "image_url", "file_data", "file_id", "cache_control"}
)  # fmt: skip


def _unknown(value: dict[str, Any]) -> Iterator[Slot]:
    """A block or item of a type this walker does not know yet (the APIs grow new ones): fail
    closed, every string in it is text to mask, its structural fields aside."""
    yield from json_leaves(value, _STRUCTURAL)


# Blocks that carry no text a person wrote: images, encrypted thinking.
_OPAQUE_BLOCKS = frozenset({"image", "redacted_thinking"})


def _blocks(blocks: Any, json_text: bool = False) -> Iterator[Slot]:
    """The text slots of Messages API content blocks (requests and replies have the same shape)."""
    for block in _dicts(blocks):
        kind = block.get("type")
        if kind == "text":
            yield from _str(block, "text", json_text)
        elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
            yield from json_leaves(block.get("input"))
        elif kind in ("tool_result", "mcp_tool_result", "search_result"):
            yield from _text_or(block, "content", _blocks)
        elif kind == "thinking":
            yield from _str(block, "thinking")
        elif kind == "document":
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "text":
                yield from _str(source, "data")
            elif isinstance(source, dict) and source.get("type") == "content":
                yield from _text_or(source, "content", _blocks)
        elif kind not in _OPAQUE_BLOCKS:
            yield from _unknown(block)


def _messages_request(payload: dict[str, Any]) -> Iterator[Slot]:
    yield from _text_or(payload, "system", _blocks)
    for m in _dicts(payload.get("messages")):
        yield from _text_or(m, "content", _blocks)


# -- requests ----------------------------------------------------------------------------------


def request_slots(endpoint: str, payload: dict[str, Any]) -> Iterator[Slot]:
    """Every text a request sends, in conversation order."""
    if endpoint == CHAT:
        for m in _dicts(payload.get("messages")):
            yield from _chat_message(m)
    elif endpoint == RESPONSES:
        yield from _responses_request(payload)
    elif endpoint == MESSAGES:
        yield from _messages_request(payload)
    else:
        yield from _prompts(payload, "prompt" if endpoint == COMPLETIONS else "input")


def request_labels(endpoint: str, payload: dict[str, Any]) -> Iterator[str]:
    """What a provider reads besides the text slots, which masking leaves alone: roles, the names
    of called tools, and the tool definitions (agents send tens of them)."""
    if endpoint in (COMPLETIONS, EMBEDDINGS):
        return
    items = payload.get("messages") if endpoint != RESPONSES else payload.get("input")
    for item in _dicts(items):
        for key in ("role", "name") if endpoint == RESPONSES else ("role",):
            if isinstance(item.get(key), str):
                yield item[key]
        calls = [c.get("function") for c in _dicts(item.get("tool_calls"))]  # chat
        for fn in [*calls, item.get("function_call")]:
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                yield fn["name"]
        for block in _dicts(item.get("content")):  # messages
            if block.get("type") in ("tool_use", "server_tool_use") and isinstance(block.get("name"), str):
                yield block["name"]
    if payload.get("tools"):
        yield orjson.dumps(payload["tools"]).decode()


def request_items(endpoint: str, payload: dict[str, Any]) -> int:
    """How many items (messages, input items) a conversation's provider frames."""
    items = payload.get("messages") if endpoint != RESPONSES else payload.get("input")
    return len(items) if isinstance(items, list) else 1


# -- replies -----------------------------------------------------------------------------------


def json_output(endpoint: str, payload: dict[str, Any]) -> bool:
    """Does the request ask for JSON output? Then the reply's text is JSON text, where placeholders
    may come escaped and values must go back JSON-escaped."""
    if endpoint == CHAT:
        spec = payload.get("response_format")
    elif endpoint == RESPONSES:
        text = payload.get("text")
        spec = text.get("format") if isinstance(text, dict) else None
    else:
        spec = payload.get("output_format")  # the Messages API's structured outputs
    return isinstance(spec, dict) and spec.get("type") in ("json_object", "json_schema")


def reply_slots(endpoint: str, reply: dict[str, Any], json_text: bool = False) -> Iterator[Slot]:
    """Every text slot of a non-stream reply: chat and completion choices, a Responses `response`
    object's output items, a Messages `message`'s content blocks. `json_text`: the reply's text
    is JSON (see `json_output`)."""
    if endpoint == RESPONSES:
        for item in _dicts(reply.get("output")):
            yield from _responses_item(item, json_text)
    elif endpoint == MESSAGES:
        yield from _blocks(reply.get("content"), json_text)
    else:
        for choice in _dicts(reply.get("choices")):
            message = choice.get("message")
            if isinstance(message, dict):
                yield from _chat_message(message, json_text)
            yield from _str(choice, "text")


# -- stream events -----------------------------------------------------------------------------

# What streamed text is: "json" (tool-call JSON), "reply" (the reply's text: JSON when the request
# asked for JSON output) or "plain".
#
# Responses stream events that carry a piece of text (always in `delta`):
# event type prefix → (the field of its `.done` event with the whole text, sub-index field, what it is)
RESPONSES_DELTAS: dict[str, tuple[str, str | None, str]] = {
    "response.output_text": ("text", "content_index", "reply"),
    "response.refusal": ("refusal", "content_index", "plain"),
    "response.function_call_arguments": ("arguments", None, "json"),
    "response.custom_tool_call_input": ("input", None, "plain"),
    "response.reasoning_summary_text": ("text", "summary_index", "plain"),
}
RESPONSES_ENDS = ("response.completed", "response.incomplete", "response.failed")

# Messages `content_block_delta` deltas that carry text: delta type → (its text field, what it is)
MESSAGES_DELTAS = {"text_delta": ("text", "reply"), "input_json_delta": ("partial_json", "json"),
                   "thinking_delta": ("thinking", "plain")}  # fmt: skip


def _is_json(what: str, json_text: bool) -> bool:
    return what == "json" or (what == "reply" and json_text)


def responses_key(event: dict[str, Any]) -> tuple[str, tuple[Any, ...]] | None:
    """(`.delta` or `.done`, stream key) of a Responses event on a streamed text, else None."""
    kind = event.get("type")
    if not isinstance(kind, str):
        return None
    prefix, _, suffix = kind.rpartition(".")
    spec = RESPONSES_DELTAS.get(prefix)
    if spec is None:
        return None
    sub = spec[1]
    return suffix, (prefix, event.get("item_id"), event.get("output_index"), event.get(sub) if sub else None)


def delta_slots(endpoint: str, event: dict[str, Any], json_text: bool = False) -> Iterator[tuple[Hashable, Slot]]:
    """(stream key, slot) per piece of streamed text in one event. Chat keys start with the choice
    index; Responses keys are (event prefix, item id, output index, sub-index); Messages keys are
    (block index, delta type). `json_text`: the reply's text is JSON (see `json_output`)."""
    if endpoint == RESPONSES:
        found = responses_key(event)
        if found is not None and found[0] == "delta":
            json = _is_json(RESPONSES_DELTAS[found[1][0]][2], json_text)
            for slot in _str(event, "delta", json=json):
                yield found[1], slot
    elif endpoint == MESSAGES:
        delta = event.get("delta")
        if event.get("type") == "content_block_delta" and isinstance(delta, dict):
            kind = delta.get("type")
            spec = MESSAGES_DELTAS.get(kind) if isinstance(kind, str) else None
            if spec is not None:
                for slot in _str(delta, spec[0], json=_is_json(spec[1], json_text)):
                    yield (event.get("index"), kind), slot
    else:
        yield from _chunk_slots(event, json_text)


def _chunk_slots(chunk: dict[str, Any], json_text: bool) -> Iterator[tuple[Hashable, Slot]]:
    # Plain checks, no nested generators: this runs twice on every chunk of every chat stream.
    choices = chunk.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        i = choice.get("index", 0)
        delta = choice.get("delta")
        if isinstance(delta, dict):
            if isinstance(delta.get("content"), str):
                yield (i, "content"), Slot(delta, "content", json_text)
            if isinstance(delta.get("refusal"), str):
                yield (i, "refusal"), Slot(delta, "refusal")
            if delta.get("tool_calls"):
                for n, slot in _tool_calls(delta["tool_calls"]):
                    yield (i, "tool", n), slot
            if delta.get("function_call"):
                for slot in _str(delta["function_call"], "arguments", json=True):
                    yield (i, "function_call"), slot
        elif isinstance(choice.get("text"), str):  # /v1/completions streams carry the text on the choice
            yield (i, "text"), Slot(choice, "text")


def whole_slots(endpoint: str, event: dict[str, Any], json_text: bool = False) -> Iterator[Slot]:
    """Whole texts a Responses or Messages stream event repeats (none in chat chunks)."""
    kind = event.get("type")
    if endpoint == RESPONSES:
        found = responses_key(event)
        if found is not None:
            if found[0] == "done":
                field, _, what = RESPONSES_DELTAS[found[1][0]]
                yield from _str(event, field, json=_is_json(what, json_text))
        elif kind in ("response.output_item.added", "response.output_item.done"):
            if isinstance(event.get("item"), dict):
                yield from _responses_item(event["item"], json_text)
        elif kind in ("response.content_part.added", "response.content_part.done"):
            yield from _parts([event.get("part")], json_text)
        elif kind in RESPONSES_ENDS and isinstance(event.get("response"), dict):
            yield from reply_slots(RESPONSES, event["response"], json_text)
    elif endpoint == MESSAGES:
        if kind == "content_block_start":
            yield from _blocks([event.get("content_block")], json_text)
        elif kind == "message_start" and isinstance(event.get("message"), dict):
            yield from reply_slots(MESSAGES, event["message"], json_text)
