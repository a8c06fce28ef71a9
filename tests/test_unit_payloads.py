"""gateway.payloads: request bodies are parsed and validated with one clear OpenAI-style error each."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.errors import ApiError
from gateway.payloads import Endpoint, output_cap, parse_json, validate


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def parse_error(body: bytes, content_type: str = "application/json") -> ApiError:
    with pytest.raises(ApiError) as info:
        parse_json(body, content_type)
    return info.value


def validate_error(endpoint: Endpoint, payload: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as info:
        validate(endpoint, payload)
    return info.value


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


# parse_json


def test_json_object_is_parsed():
    assert parse_json(b'{"model": "m"}', "application/json") == {"model": "m"}


@pytest.mark.parametrize("content_type", ["", "application/json", "application/vnd.api+json"])
def test_json_content_types_and_none_are_accepted(content_type: str):
    assert parse_json(b"{}", content_type) == {}


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"])
def test_other_content_types_are_415(content_type: str):
    error = parse_error(b"{}", content_type)
    assert error.status == 415
    assert error.code == "unsupported_media_type"
    assert content_type in error.message
    assert "send application/json" in error.message


def test_content_type_is_case_insensitive():
    assert parse_json(b"{}", "Application/JSON") == {}


def test_empty_body_is_400():
    error = parse_error(b"")
    assert (error.status, error.code) == (400, "invalid_json")
    assert "empty" in error.message


def test_invalid_json_gives_its_position():
    error = parse_error(b'{"model": "m",}')
    assert (error.status, error.code) == (400, "invalid_json")
    assert "not valid JSON" in error.message
    assert error.message.endswith("trailing comma is not allowed at position 13")


def test_truncated_json_is_400():
    error = parse_error(b'{"model":')
    assert error.code == "invalid_json"
    assert "position 9" in error.message


def test_invalid_utf8_says_so():
    error = parse_error(b'{"model": "\xff"}')
    assert (error.status, error.code) == (400, "invalid_encoding")
    assert error.message == "the request body is not valid UTF-8"


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"1", b"null"])
def test_non_object_json_is_400(body: bytes):
    error = parse_error(body)
    assert (error.status, error.code) == (400, "invalid_json")
    assert error.message == "the request body must be a JSON object"


# validate: common parameters


@pytest.mark.parametrize("endpoint", list(Endpoint))
def test_missing_model_is_named(endpoint: Endpoint):
    error = validate_error(endpoint, {"messages": [], "prompt": "p", "input": "i"})
    assert (error.status, error.code, error.param) == (400, "missing_required_parameter", "model")
    assert error.message == "missing required parameter 'model'"


def test_model_of_wrong_type_is_named():
    error = validate_error(Endpoint.CHAT, chat(model=5))
    assert (error.code, error.param) == ("invalid_type", "model")
    assert error.message == "'model' must be a string, got integer"  # JSON's names, not Python's
    assert validate_error(Endpoint.CHAT, chat(max_tokens=2.5)).message == "'max_tokens' must be an integer, got number"


def test_null_model_is_a_type_error():
    error = validate_error(Endpoint.CHAT, chat(model=None))
    assert error.message == "'model' must be a string, got null"


def test_empty_model_is_refused():
    error = validate_error(Endpoint.CHAT, chat(model=""))
    assert (error.code, error.param) == ("invalid_value", "model")


def test_stream_must_be_boolean():
    error = validate_error(Endpoint.CHAT, chat(stream="yes"))
    assert (error.code, error.param) == ("invalid_type", "stream")
    assert "got string" in error.message


def test_stream_options_must_be_an_object():
    error = validate_error(Endpoint.CHAT, chat(stream=True, stream_options=[]))
    assert (error.code, error.param) == ("invalid_type", "stream_options")


def test_bool_max_tokens_is_a_type_error():
    error = validate_error(Endpoint.CHAT, chat(max_tokens=True))
    assert (error.status, error.code, error.param) == (400, "invalid_type", "max_tokens")
    assert error.message == "'max_tokens' must be an integer, got boolean"


def test_float_max_tokens_is_a_type_error():
    error = validate_error(Endpoint.CHAT, chat(max_tokens=10.5))
    assert (error.code, error.param) == ("invalid_type", "max_tokens")


def test_zero_max_completion_tokens_is_refused():
    error = validate_error(Endpoint.CHAT, chat(max_completion_tokens=0))
    assert (error.code, error.param) == ("invalid_value", "max_completion_tokens")
    assert "at least 1" in error.message


def test_null_max_tokens_is_accepted():
    validate(Endpoint.CHAT, chat(max_tokens=None))


@pytest.mark.parametrize("n", [1, 128])
def test_n_within_bounds_is_accepted(n: int):
    validate(Endpoint.CHAT, chat(n=n))


@pytest.mark.parametrize("n", [0, -1, 129])
def test_n_out_of_bounds_is_refused(n: int):
    error = validate_error(Endpoint.CHAT, chat(n=n))
    assert (error.code, error.param) == ("invalid_value", "n")
    assert error.message == f"'n' must be at least 1 and at most 128, got {n}"


# validate: chat


def test_valid_chat_passes():
    validate(Endpoint.CHAT, chat(stream=True, stream_options={"include_usage": True}, max_tokens=5, tools=[]))


def test_missing_messages_is_named():
    error = validate_error(Endpoint.CHAT, {"model": "m"})
    assert (error.code, error.param) == ("missing_required_parameter", "messages")


def test_messages_of_wrong_type_is_named():
    error = validate_error(Endpoint.CHAT, {"model": "m", "messages": "hi"})
    assert (error.code, error.param) == ("invalid_type", "messages")
    assert error.message == "'messages' must be an array of messages, got string"


def test_empty_messages_is_refused():
    error = validate_error(Endpoint.CHAT, {"model": "m", "messages": []})
    assert (error.code, error.param) == ("invalid_value", "messages")
    assert "at least one message" in error.message


def test_message_without_role_names_its_index():
    error = validate_error(Endpoint.CHAT, {"model": "m", "messages": [{"role": "user"}, {"content": "x"}]})
    assert (error.code, error.param) == ("invalid_type", "messages[1]")
    assert error.message == "messages[1] must be an object with a string 'role'"


def test_message_that_is_not_an_object_is_refused():
    error = validate_error(Endpoint.CHAT, {"model": "m", "messages": ["hi"]})
    assert error.param == "messages[0]"


def test_tools_must_be_an_array():
    error = validate_error(Endpoint.CHAT, chat(tools={"type": "function"}))
    assert (error.code, error.param) == ("invalid_type", "tools")


# validate: completions


@pytest.mark.parametrize("prompt", ["hi", ["a", "b"], [1, 2, 3]])
def test_valid_completions_pass(prompt: Any):
    validate(Endpoint.COMPLETIONS, {"model": "m", "prompt": prompt})


def test_missing_prompt_is_named():
    error = validate_error(Endpoint.COMPLETIONS, {"model": "m"})
    assert (error.code, error.param) == ("missing_required_parameter", "prompt")


def test_prompt_of_wrong_type_is_named():
    error = validate_error(Endpoint.COMPLETIONS, {"model": "m", "prompt": {"text": "x"}})
    assert (error.code, error.param) == ("invalid_type", "prompt")
    assert error.message == "'prompt' must be a string or an array, got object"


def test_completions_do_not_need_messages():
    validate(Endpoint.COMPLETIONS, {"model": "m", "prompt": "x"})


# validate: embeddings


def test_valid_embeddings_pass():
    validate(Endpoint.EMBEDDINGS, {"model": "m", "input": ["a", "b"]})


def test_missing_input_is_named():
    error = validate_error(Endpoint.EMBEDDINGS, {"model": "m"})
    assert (error.code, error.param) == ("missing_required_parameter", "input")


def test_input_of_wrong_type_is_named():
    error = validate_error(Endpoint.EMBEDDINGS, {"model": "m", "input": 5})
    assert (error.code, error.param) == ("invalid_type", "input")


@pytest.mark.parametrize("value", ["", []])
def test_empty_input_is_refused(value: Any):
    error = validate_error(Endpoint.EMBEDDINGS, {"model": "m", "input": value})
    assert (error.code, error.param) == ("invalid_value", "input")


def test_streaming_embeddings_is_refused():
    error = validate_error(Endpoint.EMBEDDINGS, {"model": "m", "input": "x", "stream": True})
    assert (error.status, error.code, error.param) == (400, "invalid_value", "stream")
    assert error.message == "embeddings cannot be streamed"


def test_endpoint_model_kind():
    assert Endpoint.EMBEDDINGS.model_kind == "embedding"
    assert Endpoint.CHAT.model_kind == Endpoint.COMPLETIONS.model_kind == "chat"


def test_error_is_openai_shaped():
    error = validate_error(Endpoint.CHAT, {"model": "m"})
    assert orjson.loads(error.body()) == {
        "error": {
            "message": "missing required parameter 'messages'",
            "type": "invalid_request_error",
            "code": "missing_required_parameter",
            "param": "messages",
        }
    }


# output_cap


def test_output_cap_defaults_to_the_model_cap():
    assert output_cap({}, 4096) == 4096


def test_output_cap_uses_max_tokens_below_the_model_cap():
    assert output_cap({"max_tokens": 100}, 4096) == 100


def test_output_cap_never_exceeds_the_model_cap():
    assert output_cap({"max_tokens": 10_000}, 4096) == 4096


def test_max_completion_tokens_wins_over_max_tokens():
    assert output_cap({"max_completion_tokens": 50, "max_tokens": 500}, 4096) == 50


def test_null_max_completion_tokens_falls_back_to_max_tokens():
    assert output_cap({"max_completion_tokens": None, "max_tokens": 70}, 4096) == 70


def test_output_cap_is_multiplied_by_n():
    assert output_cap({"max_tokens": 100, "n": 3}, 4096) == 300
    assert output_cap({"n": 2}, 4096) == 8192
