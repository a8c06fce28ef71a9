"""One adapter per protocol the LLM door speaks: what differs between Chat Completions, the
Responses API and the Messages API, as pure functions over the request and reply JSON.

The door's pipeline (auth → mask → reserve → provider → relay → settle) is the same for all;
an adapter tells it how to count the prompt, what caps the output, how the provider wants the
request, where usage is in the reply, which relay reads the stream and how errors are shaped.
Text slots for masking, restoring, counting and accounting come from one walker (pii/walk.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tiktoken

from config import Provider
from gateway.errors import bad_request
from gateway.payloads import Endpoint, output_cap
from gateway.relay import EventRelay, MessagesRelay, ResponsesRelay, StreamRelay, anthropic_usage
from gateway.tokenizer import count_request
from pii import StreamUnmasker, Vault, reply_slots, unmask_reply


class Adapter:
    endpoint: Endpoint = Endpoint.CHAT
    provider_kinds: frozenset[str] = frozenset({"openai", "mock"})
    anthropic_errors = False  # errors on this route in Anthropic's shape

    @property
    def path(self) -> str:
        return "/v1" + self.endpoint.value

    def prepare(self, payload: dict[str, Any], provider: Provider, detail: dict[str, Any]) -> None:
        """Adapt the (masked) request for the provider; refuse what cannot be served safely."""

    def upstream_headers(self, headers: Mapping[str, str], provider: Provider) -> dict[str, str]:
        """Headers of the agent's request that the provider needs too (never its credentials)."""
        return {}

    def count_prompt(self, enc: tiktoken.Encoding, payload: dict[str, Any]) -> int:
        return count_request(enc, self.endpoint.value, payload)

    def output_cap(self, payload: dict[str, Any], model_cap: int) -> int:
        return output_cap(payload, model_cap)

    def output_key(self, payload: dict[str, Any]) -> str:
        """The field to lower when a budget clamps the output."""
        return "max_completion_tokens" if "max_completion_tokens" in payload else "max_tokens"

    def choices(self, payload: dict[str, Any]) -> int:
        n = payload.get("n")
        return n if isinstance(n, int) and n > 0 else 1

    def reply_tokens(self, reply: dict[str, Any], enc: tiktoken.Encoding) -> tuple[int, int] | None:
        """(input, output) tokens of a whole reply: the provider's usage, else output counted here."""
        usage = reply.get("usage")
        if isinstance(usage, dict):
            return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        return None

    def reply_text(self, reply: dict[str, Any]) -> list[str]:
        return [slot.text for slot in reply_slots(self.endpoint.value, reply)]

    def unmask_reply(self, reply: dict[str, Any], vault: Vault) -> None:
        unmask_reply(self.endpoint.value, reply, vault)

    def relay(self, unmasker: StreamUnmasker | None, strip_usage: bool) -> EventRelay:
        return StreamRelay(strip_usage=strip_usage, unmasker=unmasker)

    def error_shaped(self, body: Any) -> bool:
        """Is a provider's error body already in this route's error shape (then it passes as is)?"""
        return isinstance(body, dict) and isinstance(body.get("error"), dict)


class ChatAdapter(Adapter):
    def prepare(self, payload: dict[str, Any], provider: Provider, detail: dict[str, Any]) -> None:
        if payload.get("stream"):
            options = payload.get("stream_options") or {}
            if not options.get("include_usage"):
                # Usage is how streams get charged; the client did not ask, so the relay strips it.
                detail["usage_injected"] = True
                payload["stream_options"] = {**options, "include_usage": True}


class CompletionsAdapter(ChatAdapter):
    endpoint = Endpoint.COMPLETIONS


class EmbeddingsAdapter(Adapter):
    endpoint = Endpoint.EMBEDDINGS

    def output_cap(self, payload: dict[str, Any], model_cap: int) -> int:
        return 0


def _capped(asked: Any, model_cap: int) -> int:
    return min(asked, model_cap) if isinstance(asked, int) and not isinstance(asked, bool) else model_cap


class _TypedAdapter(Adapter):
    """The Responses and Messages APIs: one reply per request."""

    def choices(self, payload: dict[str, Any]) -> int:
        return 1


class ResponsesAdapter(_TypedAdapter):
    endpoint = Endpoint.RESPONSES
    provider_kinds = frozenset({"openai", "mock"})

    def prepare(self, payload: dict[str, Any], provider: Provider, detail: dict[str, Any]) -> None:
        if provider.responses_state:
            return
        for key in ("previous_response_id", "conversation"):
            if payload.get(key) is not None:
                raise bad_request(
                    f"'{key}' needs conversation state kept by the provider, which this provider is not "
                    "allowed to keep (an operator can set providers[].responses_state: true); send the "
                    "whole conversation in 'input' instead",
                    param=key,
                    code="state_not_allowed",
                )
        if payload.get("store") is not False:
            # The provider would keep the (masked) conversation; without state there is nothing to keep.
            detail["store_disabled"] = True
            payload["store"] = False

    def output_cap(self, payload: dict[str, Any], model_cap: int) -> int:
        return _capped(payload.get("max_output_tokens"), model_cap)

    def output_key(self, payload: dict[str, Any]) -> str:
        return "max_output_tokens"

    def reply_tokens(self, reply: dict[str, Any], enc: tiktoken.Encoding) -> tuple[int, int] | None:
        usage = reply.get("usage")
        if isinstance(usage, dict):
            return int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
        return None

    def relay(self, unmasker: StreamUnmasker | None, strip_usage: bool) -> EventRelay:
        return ResponsesRelay(unmasker)


class MessagesAdapter(_TypedAdapter):
    endpoint = Endpoint.MESSAGES
    provider_kinds = frozenset({"anthropic", "mock"})
    anthropic_errors = True

    def upstream_headers(self, headers: Mapping[str, str], provider: Provider) -> dict[str, str]:
        out = {"anthropic-version": headers.get("anthropic-version") or provider.anthropic_version}
        beta = headers.get("anthropic-beta")
        if beta:
            out["anthropic-beta"] = beta
        return out

    def output_cap(self, payload: dict[str, Any], model_cap: int) -> int:
        return _capped(payload.get("max_tokens"), model_cap)

    def output_key(self, payload: dict[str, Any]) -> str:
        return "max_tokens"

    def reply_tokens(self, reply: dict[str, Any], enc: tiktoken.Encoding) -> tuple[int, int] | None:
        return anthropic_usage(reply.get("usage"))

    def relay(self, unmasker: StreamUnmasker | None, strip_usage: bool) -> EventRelay:
        return MessagesRelay(unmasker)

    def error_shaped(self, body: Any) -> bool:
        return isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict)


ADAPTERS: dict[Endpoint, Adapter] = {
    a.endpoint: a
    for a in (ChatAdapter(), CompletionsAdapter(), EmbeddingsAdapter(), ResponsesAdapter(), MessagesAdapter())
}
