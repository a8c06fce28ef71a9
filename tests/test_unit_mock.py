"""gateway.mock: the built-in provider's deterministic replies in OpenAI wire format."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest

from gateway import mock
from gateway.sse import SSEParser
from gateway.tokenizer import count_request, count_text, encoding

ENC = encoding("o200k_base")
USER = [{"role": "user", "content": "What is 2+2?"}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def chat(**payload: Any) -> dict[str, Any]:
    return orjson.loads(mock.chat_completion({"messages": USER, **payload}, "mock-gpt", ENC))


def stream(chunks: int = 4, **payload: Any) -> list[bytes | None]:
    parser = SSEParser()
    events = [
        ev
        for raw in mock.chat_stream({"messages": USER, **payload}, "mock-gpt", ENC, chunks)
        for ev in parser.feed(raw)
    ]
    assert not parser.pending()
    return [ev.data for ev in events]


def chunks_of(datas: list[bytes | None]) -> list[dict[str, Any]]:
    return [orjson.loads(d) for d in datas if d is not None and d != b"[DONE]"]


def without_created(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "created"}


# chat, non-stream


def test_reply_echoes_the_last_user_message():
    reply = chat()
    assert reply["object"] == "chat.completion"
    assert reply["model"] == "mock-gpt"
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": "Mock reply to: What is 2+2?"}
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_reply_is_deterministic():
    assert without_created(chat()) == without_created(chat())


def test_reply_uses_the_last_user_message_only():
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second"}]},
    ]
    assert mock.reply_text(messages) == "Mock reply to: second"


def test_reply_without_a_user_message():
    assert mock.reply_text([{"role": "system", "content": "sys"}]) == "Mock reply."


def test_usage_matches_tiktoken_counts():
    reply = chat()
    assert reply["usage"] == {
        "prompt_tokens": count_request(ENC, "/chat/completions", {"messages": USER}),
        "completion_tokens": count_text(ENC, "Mock reply to: What is 2+2?"),
        "total_tokens": count_request(ENC, "/chat/completions", {"messages": USER})
        + count_text(ENC, "Mock reply to: What is 2+2?"),
    }


def test_max_tokens_truncates_with_finish_reason_length():
    reply = chat(max_tokens=2)
    assert reply["choices"][0]["finish_reason"] == "length"
    assert count_text(ENC, reply["choices"][0]["message"]["content"]) == 2
    assert "Mock reply to: What is 2+2?".startswith(reply["choices"][0]["message"]["content"])
    assert reply["usage"]["completion_tokens"] == 2


def test_max_completion_tokens_also_truncates():
    assert chat(max_completion_tokens=1)["choices"][0]["finish_reason"] == "length"


def test_max_tokens_above_the_reply_length_stops_normally():
    assert chat(max_tokens=1000)["choices"][0]["finish_reason"] == "stop"


def test_tools_give_a_tool_call():
    choice = chat(tools=TOOLS)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "lookup"
    assert orjson.loads(call["function"]["arguments"]) == {"input": "Mock reply to: What is 2+2?"}


def test_tool_choice_none_gives_text():
    choice = chat(tools=TOOLS, tool_choice="none")["choices"][0]
    assert choice["message"]["content"] == "Mock reply to: What is 2+2?"
    assert "tool_calls" not in choice["message"]


def test_n_gives_n_choices_and_n_times_the_completion_tokens():
    one, three = chat(), chat(n=3)
    assert [c["index"] for c in three["choices"]] == [0, 1, 2]
    assert three["usage"]["completion_tokens"] == 3 * one["usage"]["completion_tokens"]


# chat, stream


def test_stream_ends_with_done():
    datas = stream()
    assert datas[-1] == b"[DONE]"
    assert datas.count(b"[DONE]") == 1


def test_stream_content_joins_to_the_reply():
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks_of(stream()))
    assert text == "Mock reply to: What is 2+2?"


def test_stream_has_the_requested_number_of_content_pieces():
    pieces = [c for c in chunks_of(stream(chunks=4)) if c["choices"][0]["delta"].get("content")]
    assert len(pieces) == 4


def test_stream_last_choice_chunk_has_the_finish_reason():
    chunks = chunks_of(stream())
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_chunk():
    assert all("usage" not in c for c in chunks_of(stream()))


def test_stream_with_include_usage_ends_with_a_usage_chunk():
    chunks = chunks_of(stream(stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last["choices"] == []
    assert last["usage"] == chat()["usage"]
    assert all("usage" not in c for c in chunks[:-1])


def test_stream_truncated_by_max_tokens_finishes_with_length():
    chunks = chunks_of(stream(max_tokens=2))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_stream_with_tools_streams_tool_call_arguments():
    chunks = chunks_of(stream(tools=TOOLS))
    head = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert head["function"]["name"] == "lookup"
    args = "".join(
        tc["function"]["arguments"] for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls") or ()
    )
    assert orjson.loads(args) == {"input": "Mock reply to: What is 2+2?"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_with_n_streams_every_choice():
    chunks = chunks_of(stream(n=2))
    for i in (0, 1):
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"][0]["index"] == i)
        assert text == "Mock reply to: What is 2+2?"


def test_stream_is_deterministic_apart_from_created():
    def strip(datas: list[bytes | None]) -> list[dict[str, Any]]:
        return [without_created(c) for c in chunks_of(datas)]

    assert strip(stream()) == strip(stream())


# completions


def test_text_completion_echoes_the_prompt():
    reply = orjson.loads(mock.text_completion({"prompt": "Once"}, "mock-gpt", ENC))
    assert reply["object"] == "text_completion"
    assert reply["choices"][0]["text"] == "Mock completion of: Once"
    assert reply["usage"]["prompt_tokens"] == count_text(ENC, "Once")


def test_text_completion_truncates_with_length():
    reply = orjson.loads(mock.text_completion({"prompt": "Once", "max_tokens": 1}, "mock-gpt", ENC))
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 1


# embeddings


def embed(value: Any, dims: int = 16, **payload: Any) -> dict[str, Any]:
    return orjson.loads(mock.embeddings({"input": value, **payload}, "mock-embed", ENC, dims))


def test_embedding_has_the_configured_dimensions():
    [item] = embed("hello", dims=16)["data"]
    assert len(item["embedding"]) == 16
    assert all(-1.0 <= x < 1.0 for x in item["embedding"])


def test_embeddings_are_deterministic():
    assert embed("hello") == embed("hello")


def test_different_inputs_embed_differently():
    assert embed("hello")["data"][0]["embedding"] != embed("world")["data"][0]["embedding"]


def test_one_embedding_per_input():
    data = embed(["a", "b", "a"])["data"]
    assert [d["index"] for d in data] == [0, 1, 2]
    assert data[0]["embedding"] == data[2]["embedding"] != data[1]["embedding"]


def test_token_id_input_is_one_input():
    assert len(embed([1, 2, 3])["data"]) == 1


def test_base64_embedding_decodes_to_dims_float32():
    plain = embed("hello", dims=8)["data"][0]["embedding"]
    encoded = embed("hello", dims=8, encoding_format="base64")["data"][0]["embedding"]
    raw = base64.b64decode(encoded)
    assert len(raw) == 8 * 4
    assert list(struct.unpack("<8f", raw)) == pytest.approx(plain, abs=1e-6)


def test_embedding_usage_counts_input_tokens():
    assert embed(["hello world", "hello world"])["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
