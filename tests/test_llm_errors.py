"""Bad input, forged credentials and misbehaving providers: every case gets a clear OpenAI-shaped
error, and the worker keeps serving afterwards."""

from __future__ import annotations

import socket

import httpx
import openai
import pytest

from tests.conftest import ALICE, BOB, CAROL, Gateway
from tests.upstream import Upstream

CHAT = {"model": "up-gpt", "messages": [{"role": "user", "content": "hi"}]}


def post(gw: Gateway, path: str, token: str | None = ALICE, **kwargs) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    return httpx.post(gw.base_url + path, headers=headers, timeout=10, **kwargs)


def assert_error(r: httpx.Response, status: int, code: str | None = None, type_: str | None = None) -> dict:
    """tollgate's own errors carry all four fields; a provider's pass through as the provider sent them."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["x-request-id"].startswith("req_")
    err = r.json()["error"]
    assert {"message", "type", "code"} <= set(err) and err["message"]
    if code is not None:
        assert err["code"] == code
    if type_ is not None:
        assert err["type"] == type_
    return err


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer tg-test-alice-0123456789abcdefghijklmnoX"},  # one character off
        {"Authorization": "Basic " + ALICE},
        {"Authorization": "Bearer"},
        {"x-api-key": "sha256:" + "0" * 64},  # presenting a stored hash is not presenting the token
    ],
)
def test_forged_or_missing_tokens_get_401_and_never_reach_upstream(gateway: Gateway, upstream: Upstream, headers: dict):
    r = post(gateway, "/chat/completions", token=None, headers=headers, json=CHAT)
    assert_error(r, 401, "invalid_api_key")
    assert upstream.recorder.requests == []


def test_openai_client_sees_authentication_error(gateway: Gateway):
    c = openai.OpenAI(base_url=gateway.base_url, api_key="tg-forged", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        c.chat.completions.create(**CHAT)


def test_x_api_key_header_authenticates(gateway: Gateway):
    assert post(gateway, "/chat/completions", token=None, headers={"x-api-key": ALICE}, json=CHAT).status_code == 200


def test_auth_failures_are_audited_without_the_token(gateway: Gateway):
    r = post(gateway, "/chat/completions", token="tg-forged-token-value-xyz", json=CHAT)
    event = gateway.audit_for(r.headers["x-request-id"])
    assert event["surface"] == "auth" and event["result"] == "denied" and event["status"] == 401
    assert "tg-forged-token-value-xyz" not in (gateway.workdir / "var" / "audit.jsonl").read_text()
    assert "tg-forged-token-value-xyz" not in gateway.log()


def test_model_not_allowed_is_403_and_unknown_is_404(gateway: Gateway, upstream: Upstream):
    assert_error(post(gateway, "/chat/completions", BOB, json={**CHAT, "model": "mock-gpt"}), 403, "model_not_allowed")
    assert_error(post(gateway, "/chat/completions", json={**CHAT, "model": "gpt-nope"}), 404, "model_not_found")
    assert upstream.recorder.requests == []
    c = openai.OpenAI(base_url=gateway.base_url, api_key=BOB, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        c.chat.completions.create(model="mock-gpt", messages=CHAT["messages"])


def test_a_refused_model_of_the_config_is_named_in_the_audit_row(gateway: Gateway):
    r = post(gateway, "/chat/completions", BOB, json={**CHAT, "model": "mock-gpt"})
    event = gateway.audit_for(r.headers["x-request-id"])
    assert (event["status"], event["resource"]) == (403, "mock-gpt")
    r = post(gateway, "/chat/completions", json={**CHAT, "model": "gpt-nope"})
    assert gateway.audit_for(r.headers["x-request-id"])["resource"] == "-"  # a client's free text: not recorded


def test_agents_of_other_orgs_are_accounted_to_their_own_org(gateway: Gateway):
    r = post(gateway, "/chat/completions", CAROL, json=CHAT)
    event = gateway.audit_for(r.headers["x-request-id"])
    assert (event["org_id"], event["actor_id"]) == ("globex", "carol")


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (b"{not json", "invalid_json", None),
        (b"", "invalid_json", None),
        (b"[1, 2]", "invalid_json", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "missing_required_parameter", "model"),
        (b'{"model": "up-gpt"}', "missing_required_parameter", "messages"),
        (b'{"model": 7, "messages": []}', "invalid_type", "model"),
        (b'{"model": "up-gpt", "messages": []}', "invalid_value", "messages"),
        (b'{"model": "up-gpt", "messages": "hello"}', "invalid_type", "messages"),
        (b'{"model": "up-gpt", "messages": [{"content": "no role"}]}', "invalid_type", "messages[0]"),
        (b'{"model": "up-gpt", "messages": [{"role": "user"}], "stream": "yes"}', "invalid_type", "stream"),
        (b'{"model": "up-gpt", "messages": [{"role": "user"}], "max_tokens": true}', "invalid_type", "max_tokens"),
        (b'{"model": "up-gpt", "messages": [{"role": "user"}], "max_tokens": 0}', "invalid_value", "max_tokens"),
        (b'{"model": "up-embed", "messages": [{"role": "user"}]}', "wrong_model_kind", "model"),
        (b'{"model": "up-gpt", "messages": [{"role": "user", "content": "\xff\xfe"}]}', "invalid_encoding", None),
    ],
)
def test_bad_chat_bodies_get_400_naming_the_problem(
    gateway: Gateway, upstream: Upstream, body: bytes, code: str, param: str | None
):
    r = post(gateway, "/chat/completions", content=body, headers={"Content-Type": "application/json"})
    err = assert_error(r, 400, code)
    assert err["param"] == param
    assert upstream.recorder.requests == []


def test_bad_embeddings_and_completions_bodies(gateway: Gateway):
    assert_error(post(gateway, "/embeddings", json={"model": "up-embed"}), 400, "missing_required_parameter")
    assert_error(post(gateway, "/embeddings", json={"model": "up-embed", "input": ""}), 400, "invalid_value")
    assert_error(post(gateway, "/completions", json={"model": "up-gpt"}), 400, "missing_required_parameter")


def test_body_over_the_limit_is_413_with_and_without_content_length(gateway: Gateway, upstream: Upstream):
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 70_000}]}
    assert_error(post(gateway, "/chat/completions", json=big), 413, "request_too_large")

    def chunks():
        yield b'{"model": "up-gpt", "messages": [{"role": "user", "content": "'
        for _ in range(80):
            yield b"y" * 1024
        yield b'"}]}'

    r = post(gateway, "/chat/completions", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(r, 413, "request_too_large")
    assert upstream.recorder.requests == []


def test_unsupported_content_type_is_415(gateway: Gateway):
    r = post(gateway, "/chat/completions", content=b"model=up-gpt", headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


def test_unknown_route_is_404_and_wrong_method_is_405(gateway: Gateway):
    assert_error(httpx.get(gateway.base_url + "/nope"), 404, "unknown_route")
    r = httpx.get(gateway.base_url + "/chat/completions")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"
    # Both are audited: who (an agent with a good token, else anonymous; never the token) asked for what.
    probe = httpx.post(gateway.base_url + "/batches", headers={"Authorization": f"Bearer {ALICE}"})
    event = gateway.audit_for(probe.headers["x-request-id"])
    assert (event["actor_type"], event["actor_id"], event["action"]) == ("agent", "alice", "post")
    assert (event["result"], event["status"], event["resource"]) == ("denied", 404, "/v1/batches")
    wrong = gateway.audit_for(r.headers["x-request-id"])
    assert (wrong["actor_type"], wrong["status"], wrong["detail"]["reason"]) == ("anonymous", 405, "method_not_allowed")
    assert ALICE not in (gateway.workdir / "var" / "audit.jsonl").read_text()


def test_upstream_error_status_and_body_pass_through(gateway: Gateway):
    r = post(gateway, "/chat/completions", json={**CHAT, "model": "error-429"})
    err = assert_error(r, 429)
    assert "param" not in err  # the provider's body, unchanged
    assert err["message"] == "upstream says 429" and err["type"] == "upstream_test"
    c = openai.OpenAI(base_url=gateway.base_url, api_key=ALICE, max_retries=0)
    with pytest.raises(openai.InternalServerError):
        c.chat.completions.create(model="error-500", messages=CHAT["messages"])


def test_upstream_non_json_error_is_wrapped_keeping_status(gateway: Gateway):
    err = assert_error(post(gateway, "/chat/completions", json={**CHAT, "model": "html-502"}), 502)
    assert err["type"] == "upstream_error" and "502" in err["message"]


def test_upstream_unreachable_is_502(gateway: Gateway):
    assert_error(post(gateway, "/chat/completions", json={**CHAT, "model": "down-gpt"}), 502, "upstream_unreachable")


def test_upstream_timeout_is_504(gateway: Gateway):
    err = assert_error(post(gateway, "/chat/completions", json={**CHAT, "model": "slow-3000"}), 504, "upstream_timeout")
    assert err["type"] == "upstream_timeout"


def stream_lines(gw: Gateway, model: str) -> list[str]:
    body = {"model": model, "messages": [{"role": "user", "content": "go"}], "stream": True}
    with httpx.stream(
        "POST", gw.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {ALICE}"}
    ) as r:
        assert r.status_code == 200
        return [line for line in r.iter_lines() if line]


def test_upstream_closing_mid_stream_ends_with_an_error_event_and_done(gateway: Gateway):
    lines = stream_lines(gateway, "cut")
    assert lines[-1] == "data: [DONE]"
    assert '"error"' in lines[-2] and "closed the stream early" in lines[-2]
    assert any('"one "' in line for line in lines)


def test_malformed_sse_from_upstream_ends_the_stream_cleanly(gateway: Gateway):
    lines = stream_lines(gateway, "garbage")
    assert lines[-1] == "data: [DONE]"
    assert '"error"' in lines[-2] and "malformed stream" in lines[-2]
    assert not any("never relayed" in line for line in lines)
    c = openai.OpenAI(base_url=gateway.base_url, api_key=ALICE, max_retries=0)
    with pytest.raises(openai.APIError):
        list(c.chat.completions.create(model="garbage", messages=CHAT["messages"], stream=True))


def test_streamed_upstream_error_keeps_its_status(gateway: Gateway):
    r = post(gateway, "/chat/completions", json={**CHAT, "model": "error-429", "stream": True})
    assert_error(r, 429)


def test_worker_keeps_serving_after_garbage_on_the_socket(gateway: Gateway):
    port = int(gateway.base_url.split(":")[2].split("/")[0])
    for junk in (b"\x00\x01\x02 garbage\r\n\r\n", b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(junk)
            assert s.recv(1024).split(b" ")[1] == b"400"
    assert post(gateway, "/chat/completions", json=CHAT).status_code == 200
