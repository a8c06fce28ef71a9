"""Validation of LLM request bodies: pure, one clear error per bad input."""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson

from gateway.errors import ApiError, bad_request


class Endpoint(Enum):
    CHAT = "/chat/completions"
    COMPLETIONS = "/completions"
    EMBEDDINGS = "/embeddings"
    RESPONSES = "/responses"  # OpenAI's Responses API
    MESSAGES = "/messages"  # Anthropic's Messages API

    @property
    def model_kind(self) -> str:
        return "embedding" if self is Endpoint.EMBEDDINGS else "chat"


def parse_json(body: bytes, content_type: str) -> dict[str, Any]:
    """`content_type` is the header's media type, parameters such as charset already removed."""
    content_type = content_type.lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(
            415,
            f"unsupported content type {content_type!r}: send application/json",
            code="unsupported_media_type",
        )
    if not body:
        raise bad_request("the request body is empty: send a JSON object", code="invalid_json")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request("the request body is not valid UTF-8", code="invalid_encoding") from None
        raise bad_request(
            f"the request body is not valid JSON: {e.msg} at position {e.pos}", code="invalid_json"
        ) from None
    if not isinstance(payload, dict):
        raise bad_request("the request body must be a JSON object", code="invalid_json")
    return payload


def _type_name(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}
    return names.get(type(value), "null")  # what JSON can hold


def _expect(payload: dict[str, Any], key: str, types: tuple[type, ...], what: str, required: bool = False) -> None:
    if key not in payload:
        if required:
            raise bad_request(f"missing required parameter '{key}'", param=key, code="missing_required_parameter")
        return
    value = payload[key]
    # bool is an int subclass: `max_tokens: true` is a type error, not 1.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise bad_request(f"'{key}' must be {what}, got {_type_name(value)}", param=key, code="invalid_type")


def _positive_int(payload: dict[str, Any], key: str, maximum: int | None = None) -> None:
    _expect(payload, key, (int, type(None)), "an integer")
    value = payload.get(key)
    if value is not None and (value < 1 or (maximum is not None and value > maximum)):
        bound = f" and at most {maximum}" if maximum else ""
        raise bad_request(f"'{key}' must be at least 1{bound}, got {value}", param=key, code="invalid_value")


def validate(endpoint: Endpoint, payload: dict[str, Any]) -> None:
    _expect(payload, "model", (str,), "a string", required=True)
    if not payload["model"]:
        raise bad_request("'model' must not be empty", param="model", code="invalid_value")
    _expect(payload, "stream", (bool, type(None)), "a boolean")
    _expect(payload, "stream_options", (dict, type(None)), "an object")
    _positive_int(payload, "max_tokens")
    _positive_int(payload, "max_completion_tokens")
    _positive_int(payload, "n", 128)
    if endpoint is Endpoint.CHAT:
        _expect(payload, "messages", (list,), "an array of messages", required=True)
        messages = payload["messages"]
        if not messages:
            raise bad_request("'messages' must contain at least one message", param="messages", code="invalid_value")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise bad_request(
                    f"messages[{i}] must be an object with a string 'role'", param=f"messages[{i}]", code="invalid_type"
                )
        _expect(payload, "tools", (list, type(None)), "an array")
    elif endpoint is Endpoint.RESPONSES:
        _validate_responses(payload)
    elif endpoint is Endpoint.MESSAGES:
        _validate_messages(payload)
    elif endpoint is Endpoint.COMPLETIONS:
        _expect(payload, "prompt", (str, list), "a string or an array", required=True)
    else:
        _expect(payload, "input", (str, list), "a string or an array", required=True)
        if not payload["input"]:
            raise bad_request("'input' must not be empty", param="input", code="invalid_value")
        if payload.get("stream"):
            raise bad_request("embeddings cannot be streamed", param="stream", code="invalid_value")


def _items(payload: dict[str, Any], key: str, what: str) -> None:
    """Every entry of the list at `key` must be an object (the list itself is checked by the caller)."""
    for i, item in enumerate(payload.get(key) or ()):
        if not isinstance(item, dict):
            raise bad_request(f"{key}[{i}] must be an object {what}", param=f"{key}[{i}]", code="invalid_type")


def _validate_responses(payload: dict[str, Any]) -> None:
    _expect(payload, "input", (str, list), "a string or an array of input items", required=True)
    if not payload["input"]:
        raise bad_request("'input' must not be empty", param="input", code="invalid_value")
    if isinstance(payload["input"], list):
        _items(payload, "input", "(a message or a function_call / function_call_output item)")
    _expect(payload, "instructions", (str, type(None)), "a string")
    _expect(payload, "tools", (list, type(None)), "an array")
    _expect(payload, "store", (bool, type(None)), "a boolean")
    _expect(payload, "previous_response_id", (str, type(None)), "a string")
    _positive_int(payload, "max_output_tokens")


def validate_count_tokens(payload: dict[str, Any]) -> None:
    """A Messages API token count: a Messages request without `max_tokens` (nothing is generated)."""
    _expect(payload, "model", (str,), "a string", required=True)
    _validate_messages(payload, needs_max_tokens=False)


def _validate_messages(payload: dict[str, Any], needs_max_tokens: bool = True) -> None:
    _expect(payload, "messages", (list,), "an array of messages", required=True)
    if not payload["messages"]:
        raise bad_request("'messages' must contain at least one message", param="messages", code="invalid_value")
    for i, m in enumerate(payload["messages"]):
        if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str | list)):
            raise bad_request(
                f"messages[{i}] must be an object with a string 'role' and a string or array 'content'",
                param=f"messages[{i}]", code="invalid_type",
            )  # fmt: skip
    _expect(payload, "system", (str, list, type(None)), "a string or an array of text blocks")
    _expect(payload, "tools", (list, type(None)), "an array")
    _expect(payload, "max_tokens", (int,), "an integer", required=needs_max_tokens)


def output_cap(payload: dict[str, Any], model_cap: int) -> int:
    """The most output tokens this request can produce (the worst case a budget must cover)."""
    asked = payload.get("max_completion_tokens") or payload.get("max_tokens")
    per_choice = min(asked, model_cap) if isinstance(asked, int) else model_cap
    n = payload.get("n")
    return per_choice * (n if isinstance(n, int) and n > 0 else 1)
