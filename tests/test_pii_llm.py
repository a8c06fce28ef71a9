"""PII end to end: the OpenAI client through tollgate to a recording, echoing upstream."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from config import hash_token
from tests.conftest import ALICE, CAROL, Gateway, base_config
from tests.upstream import Upstream, free_port

DAVE = "tg-test-dave-0123456789abcdefghijklmnopq"

# Planted values (all synthetic): none may reach the provider, a file or a log.
EMAIL = "zoë.keller@example-corp.io"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
AWS = "AKIA2E0A8F3B5QJ4R7ZD"
OPENAI_KEY = "sk-proj-Tq9vR2mX8kLp4Wn7Zs3Yb6Hc1Jd5Fg0Ae"
PLANTED = [EMAIL, PHONE, CARD, IBAN, AWS, OPENAI_KEY]


@pytest.fixture(scope="module")
def pii_gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = base_config(upstream.base_url, free_port(), free_port())
    globex = config["orgs"][1]
    globex["pii"] = {"actions": {"API_KEY": "block", "AWS_ACCESS_KEY": "block"}}
    globex["teams"].append(
        {"id": "ner-team", "pii": {"ner": True}, "agents": [{"id": "dave", "tokens": [hash_token(DAVE)]}]}
    )
    gw = Gateway(tmp_path_factory.mktemp("pii"), config).start()
    yield gw
    gw.stop()


def client(gw: Gateway, token: str = ALICE) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=token, max_retries=0)


def prompt() -> str:
    return f"Contact {EMAIL} or {PHONE}; card {CARD}, IBAN {IBAN}; keys {AWS} and {OPENAI_KEY}. Grüße!"


def assert_clean(text: str) -> None:
    for value in PLANTED:
        assert value not in text, value


def test_upstream_never_sees_planted_values_and_the_reply_is_restored(pii_gateway: Gateway, upstream: Upstream):
    messages = [
        {"role": "system", "content": f"The operator is {EMAIL}."},
        {"role": "user", "content": prompt()},
    ]
    reply = client(pii_gateway).chat.completions.create(model="up-gpt", messages=messages)
    sent = json.dumps(upstream.recorder.last().body, ensure_ascii=False)
    assert_clean(sent)
    assert "<EMAIL_1>" in sent and "<CREDIT_CARD_1>" in sent
    assert reply.choices[0].message.content == f"Mock reply to: {prompt()}"


@pytest.mark.parametrize("model", ["charwise", "up-gpt"])
def test_stream_with_placeholders_split_across_chunks_is_restored_exactly(pii_gateway: Gateway, model: str):
    stream = client(pii_gateway).chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt()}], stream=True, n=2
    )
    texts = {0: "", 1: ""}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == {0: f"Mock reply to: {prompt()}", 1: f"Mock reply to: {prompt()}"}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("escaping", [None, "goenc", "hexenc"])
def test_tool_call_arguments_are_restored(pii_gateway: Gateway, upstream: Upstream, stream: bool, escaping: str | None):
    # goenc: the provider writes `<EMAIL_1>` as `\u003cEMAIL_1\u003e` inside the arguments' JSON text
    # (Go's encoder: Ollama, several vLLM front ends); hexenc: every character escaped, upper-case hex
    # (`\u003C\u0045…`). Streamed three characters a delta, so escapes are split across chunks.
    tools = [{"type": "function", "function": {"name": "send", "parameters": {"type": "object"}}}]
    messages = [{"role": "user", "content": f"email {EMAIL} now"}]
    c = client(pii_gateway)
    if stream:
        args = "".join(
            tc.function.arguments or ""
            for chunk in c.chat.completions.create(
                model=escaping or "charwise", messages=messages, tools=tools, stream=True
            )
            for tc in (chunk.choices[0].delta.tool_calls or [] if chunk.choices else [])
        )
    else:
        reply = c.chat.completions.create(model=escaping or "up-gpt", messages=messages, tools=tools)
        args = reply.choices[0].message.tool_calls[0].function.arguments
    assert "EMAIL_1" not in args and "u0045" not in args
    assert json.loads(args) == {"input": f"Mock reply to: email {EMAIL} now"}
    assert_clean(json.dumps(upstream.recorder.last().body, ensure_ascii=False))


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("escaping", ["goenc", "hexenc"])
def test_json_output_is_restored_as_json(pii_gateway: Gateway, stream: bool, escaping: str):
    # Asked for JSON output, the reply's content is JSON text: its placeholders may come escaped too.
    messages: Any = [{"role": "user", "content": f"email {EMAIL} now"}]
    c = client(pii_gateway)
    fmt: Any = {"type": "json_object"}
    if stream:
        chunks = c.chat.completions.create(model=escaping, messages=messages, response_format=fmt, stream=True)
        content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    else:
        reply = c.chat.completions.create(model=escaping, messages=messages, response_format=fmt)
        content = reply.choices[0].message.content or ""
    assert json.loads(content) == {"reply": f"Mock reply to: email {EMAIL} now"}


def test_a_message_name_is_masked(pii_gateway: Gateway, upstream: Upstream):
    messages = [{"role": "user", "name": "jane.doe@example-corp.io", "content": "hello"}]
    client(pii_gateway).chat.completions.create(model="up-gpt", messages=messages)
    sent = upstream.recorder.last().body["messages"][0]
    # Providers accept only [A-Za-z0-9_-] in a name: the placeholder goes without its delimiters.
    assert sent["name"] == "EMAIL_1"


def test_a_growing_conversation_keeps_its_placeholders(pii_gateway: Gateway, upstream: Upstream):
    first = [{"role": "user", "content": f"I am {EMAIL}"}]
    reply = client(pii_gateway).chat.completions.create(model="up-gpt", messages=first)
    sent_first = upstream.recorder.last().body["messages"]
    second = [
        *first,
        {"role": "assistant", "content": reply.choices[0].message.content},
        {"role": "user", "content": "and my colleague is ann@example-corp.io"},
    ]
    client(pii_gateway).chat.completions.create(model="up-gpt", messages=second)
    sent_second = upstream.recorder.last().body["messages"]
    assert sent_second[0] == sent_first[0]  # a stable prefix keeps provider prompt caches warm
    assert sent_second[2]["content"] == "and my colleague is <EMAIL_2>"


def test_a_literal_placeholder_is_never_restored_into_someone_elses_value(pii_gateway: Gateway):
    text = f"Template uses <EMAIL_1>; real one is {EMAIL}"
    reply = client(pii_gateway).chat.completions.create(model="up-gpt", messages=[{"role": "user", "content": text}])
    assert reply.choices[0].message.content == f"Mock reply to: {text}"


def test_embeddings_and_completions_inputs_are_masked(pii_gateway: Gateway, upstream: Upstream):
    client(pii_gateway).embeddings.create(model="up-embed", input=[prompt(), "clean text"])
    assert_clean(json.dumps(upstream.recorder.last().body, ensure_ascii=False))
    done = client(pii_gateway).completions.create(model="up-gpt", prompt=f"Dear {EMAIL},")
    assert_clean(json.dumps(upstream.recorder.last().body, ensure_ascii=False))
    assert done.choices[0].text == f"Mock completion of: Dear {EMAIL},"


def test_block_policy_refuses_naming_types_never_values(pii_gateway: Gateway, upstream: Upstream):
    r = httpx.post(
        pii_gateway.base_url + "/chat/completions",
        headers={"Authorization": f"Bearer {CAROL}"},
        json={"model": "up-gpt", "messages": [{"role": "user", "content": prompt()}]},
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] == "pii_policy" and err["code"] == "pii_blocked"
    assert "API_KEY" in err["message"] and "AWS_ACCESS_KEY" in err["message"]
    assert_clean(r.text)
    assert upstream.recorder.requests == []


def test_ner_policy_masks_names_places_and_companies(pii_gateway: Gateway, upstream: Upstream):
    text = (
        f"Please email Margaret Thornton at {EMAIL}; she moved from Manchester to Lisbon to join Halvorsen Logistics."
    )
    reply = client(pii_gateway, DAVE).chat.completions.create(
        model="up-gpt", messages=[{"role": "user", "content": text}]
    )
    sent = upstream.recorder.last().body["messages"][0]["content"]
    for value in ("Margaret Thornton", "Manchester", "Lisbon", EMAIL):
        assert value not in sent, (value, sent)
    assert "<PERSON_1>" in sent and "<EMAIL_1>" in sent
    assert reply.choices[0].message.content == f"Mock reply to: {text}"


def test_detection_that_cannot_complete_fails_closed(upstream: Upstream, tmp_path: Path):
    config = base_config(upstream.base_url, free_port(), free_port())
    config["limits"]["ner_timeout_s"] = 0.000001  # no detection finishes in a microsecond
    config["orgs"][0]["pii"] = {"ner": True}
    gw = Gateway(tmp_path, config).start()
    try:
        with pytest.raises(openai.BadRequestError) as e:
            client(gw).chat.completions.create(model="up-gpt", messages=[{"role": "user", "content": "hello " * 50}])
        assert e.value.body["type"] == "pii_policy" and e.value.body["code"] == "pii_detection_failed"
        assert upstream.recorder.requests == []
    finally:
        gw.stop()


def test_audit_gets_counts_and_metrics_get_types(pii_gateway: Gateway):
    raw = client(pii_gateway).chat.completions.with_raw_response.create(
        model="up-gpt", messages=[{"role": "user", "content": prompt()}]
    )
    event = pii_gateway.audit_for(raw.headers["x-request-id"])
    assert event["pii_counts"]["EMAIL"] == 1 and event["pii_counts"]["CREDIT_CARD"] == 1
    metrics = httpx.get(pii_gateway.admin_url + "/metrics").text
    assert 'tollgate_pii_entities_total{action="mask",type="EMAIL"}' in metrics


def test_no_file_tollgate_wrote_holds_a_planted_value(pii_gateway: Gateway):
    """Runs last in this module: every file of the gateway's working dir, and its metrics files."""
    roots = [pii_gateway.workdir, Path("/tmp")]
    checked = 0
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            if root == Path("/tmp") and "tollgate" not in dirpath:
                continue
            for name in files:
                path = Path(dirpath) / name
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                checked += 1
                for value in PLANTED:
                    assert value.encode() not in data, f"{value!r} found in {path}"
    assert checked >= 3  # the log, the audit sink and the config at least
