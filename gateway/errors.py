"""Errors with the right status, OpenAI-shaped (`{"error": {"message", "type", "code", "param"}}`)
or, on the Messages API route, Anthropic-shaped (`{"type": "error", "error": {"type", "message"}}`)."""

from __future__ import annotations

import orjson
from aiohttp import web


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> bytes:
        return error_body(self.message, self.type, self.code, self.param)

    def anthropic_body(self) -> bytes:
        """Anthropic's error type for the status; tollgate's own code (`team_daily`, `pii_blocked`)
        rides along in `code`, so the same refusal reads the same on every route."""
        return anthropic_error_body(self.message, anthropic_type(self.status), self.code or self.type)

    def response(self, extra_headers: dict[str, str] | None = None, anthropic: bool = False) -> web.Response:
        headers = {**self.headers, **(extra_headers or {})}
        body = self.anthropic_body() if anthropic else self.body()
        return web.Response(status=self.status, body=body, content_type="application/json", headers=headers)


def error_body(message: str, type: str, code: str | None = None, param: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type, "code": code, "param": param}})


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, "invalid_request_error", code, param)


# Anthropic's documented error types by HTTP status (https://docs.anthropic.com/en/api/errors).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    504: "timeout_error", 529: "overloaded_error",
}  # fmt: skip


def anthropic_type(status: int) -> str:
    return _ANTHROPIC_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def anthropic_error_body(message: str, type: str, code: str | None = None) -> bytes:
    error = {"type": type, "message": message}
    if code:
        error["code"] = code
    return orjson.dumps({"type": "error", "error": error})
