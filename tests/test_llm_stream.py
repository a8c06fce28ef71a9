"""Streaming through tollgate with real clients: curl, raw sockets, and cut connections."""

from __future__ import annotations

import json
import subprocess
import time

import httpx

from tests.conftest import ALICE, Gateway
from tests.upstream import Upstream, read_drips_then_hang_up, wait_until


def test_curl_receives_the_sse_stream(gateway: Gateway):
    body = json.dumps({"model": "mock-gpt", "stream": True, "messages": [{"role": "user", "content": "curl me"}]})
    out = subprocess.run(
        ["curl", "-sN", "--fail-with-body", "-D", "-", f"{gateway.base_url}/chat/completions",
         "-H", f"Authorization: Bearer {ALICE}", "-H", "Content-Type: application/json", "-d", body],
        capture_output=True, text=True, timeout=10, check=True,
    ).stdout  # fmt: skip
    head, _, stream = out.partition("\n\n")  # text mode turned CRLF into LF
    assert "content-type: text/event-stream" in head.lower() and "x-request-id: req_" in head.lower()
    events = [e for e in stream.split("\n\n") if e.strip()]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "Mock reply to: curl me"
    assert all(c["choices"] for c in chunks)


def test_chunks_are_relayed_as_they_come_not_buffered(gateway: Gateway):
    # `drip` sends a chunk every 50 ms for 10 s: the first ones must arrive long before the end.
    body = {"model": "drip", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    start = time.monotonic()
    arrivals = []
    with httpx.stream(
        "POST", gateway.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {ALICE}"}
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                arrivals.append(time.monotonic() - start)
            if len(arrivals) == 5:
                break
    assert arrivals[0] < 1.0 and arrivals[4] < 2.0, arrivals


def test_client_disconnect_cancels_upstream_and_charges_what_was_streamed(gateway: Gateway, upstream: Upstream):
    payload = {"model": "drip", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    received = read_drips_then_hang_up(gateway.base_url, "/chat/completions", payload, ALICE)
    request_id = received.split(b"x-request-id: ")[1].split(b"\r\n")[0].decode()
    # The provider sees its connection closed well before the 10 s stream would have ended.
    assert wait_until(lambda: request_id in upstream.recorder.disconnects, timeout=3)
    assert request_id not in upstream.recorder.finished_streams
    event = gateway.audit_for(request_id)
    assert event["status"] == 499 and event["result"] == "error"
    assert event["tokens_out"] > 0 and event["tokens_in"] > 0 and event["cost_usd"] > 0
