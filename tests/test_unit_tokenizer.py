"""gateway.tokenizer: tiktoken encodings from shipped ranks, prompt counting for budgets."""

from __future__ import annotations

import pytest
import tiktoken.load

from gateway.tokenizer import (
    count_chat_prompt,
    count_prompt_input,
    count_text,
    encoding,
    encoding_for_model,
    iter_message_text,
)


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


O200K = "o200k_base"
CL100K = "cl100k_base"


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_encodings_load_without_network(monkeypatch: pytest.MonkeyPatch, name: str):
    def refuse(*_a: object, **_k: object) -> bytes:
        raise AssertionError("tiktoken tried to download its BPE file")

    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", refuse)
    encoding.cache_clear()
    try:
        assert encoding(name).name == name
    finally:
        encoding.cache_clear()


@pytest.mark.parametrize(
    ("model", "name"),
    [("gpt-4o", O200K), ("gpt-4o-mini", O200K), ("gpt-4", CL100K), ("gpt-3.5-turbo", CL100K), ("my-llama", O200K)],
)
def test_encoding_for_model(model: str, name: str):
    assert encoding_for_model(model).name == name


def test_model_with_an_unshipped_encoding_falls_back_to_cl100k():
    assert encoding_for_model("text-davinci-003").name == CL100K  # p50k_base is not shipped


def test_unshipped_encoding_name_is_an_error():
    with pytest.raises(ValueError, match="no shipped ranks for r50k_base"):
        encoding("r50k_base")


def test_encodings_are_cached():
    assert encoding(O200K) is encoding(O200K)


@pytest.mark.parametrize(("name", "ids"), [(O200K, [24912, 2375]), (CL100K, [15339, 1917])])
def test_hello_world_matches_tiktoken(name: str, ids: list[int]):
    enc = encoding(name)
    assert enc.encode("hello world") == ids
    assert count_text(enc, "hello world") == 2


@pytest.mark.parametrize(
    ("name", "ids"),
    [(O200K, [83, 8251, 2488, 382, 2212, 0]), (CL100K, [83, 1609, 5963, 374, 2294, 0])],
)
def test_cookbook_example_matches_tiktoken(name: str, ids: list[int]):
    # The OpenAI cookbook's "How to count tokens with tiktoken" example.
    enc = encoding(name)
    assert enc.encode("tiktoken is great!") == ids
    assert count_text(enc, "tiktoken is great!") == 6


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_round_trip_of_non_ascii_text(name: str):
    enc = encoding(name)
    text = "Grüße, 世界! 😀"
    assert enc.decode(enc.encode(text)) == text


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_special_token_text_is_counted_as_plain_text(name: str):
    enc = encoding(name)
    # Counted, not rejected, and not collapsed into the single special token.
    assert count_text(enc, "<|endoftext|>") > 1
    assert count_text(enc, "a <|endoftext|> b") > count_text(enc, "a  b")


def test_empty_text_is_zero_tokens():
    assert count_text(encoding(O200K), "") == 0


def test_prompt_input_string():
    enc = encoding(O200K)
    assert count_prompt_input(enc, "hello world") == 2


def test_prompt_input_list_of_strings_is_summed():
    enc = encoding(O200K)
    assert count_prompt_input(enc, ["hello world", "tiktoken is great!"]) == 8


def test_prompt_input_token_ids_count_one_each():
    assert count_prompt_input(encoding(O200K), [101, 102, 103]) == 3


def test_prompt_input_list_of_token_id_lists():
    assert count_prompt_input(encoding(O200K), [[1, 2], [3, 4, 5]]) == 5


def test_prompt_input_of_other_types_is_zero():
    assert count_prompt_input(encoding(O200K), None) == 0


def test_chat_prompt_of_no_messages_is_the_reply_primer():
    assert count_chat_prompt(encoding(O200K), []) == 3


def test_chat_prompt_adds_overhead_per_message():
    enc = encoding(O200K)
    one = [{"role": "user", "content": "hello world"}]
    assert count_chat_prompt(enc, one) == count_text(enc, "hello world\nuser") + 3 + 3


def test_each_extra_message_costs_at_least_its_framing():
    enc = encoding(O200K)
    one = [{"role": "user", "content": "hello world"}]
    two = [*one, {"role": "user", "content": ""}]
    assert count_chat_prompt(enc, two) >= count_chat_prompt(enc, one) + 3


def test_chat_prompt_counts_text_parts_and_tool_call_arguments():
    enc = encoding(O200K)
    plain = count_chat_prompt(enc, [{"role": "assistant", "content": None}])
    rich = count_chat_prompt(
        enc,
        [
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}],
                "tool_calls": [{"type": "function", "function": {"name": "search", "arguments": '{"q": "tiktoken"}'}}],
            }
        ],
    )
    assert rich > plain + 5


def test_message_text_covers_content_parts_names_and_tool_calls():
    texts = list(
        iter_message_text(
            [
                {"role": "system", "content": "be brief"},
                {"role": "user", "name": "ann", "content": [{"type": "text", "text": "part"}]},
                {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
                "not a message",
            ]
        )
    )
    # the slots masking sees (pii.request_slots), then roles and tool names
    assert texts == ["be brief", "part", "ann", "{}", "system", "user", "assistant", "f"]
