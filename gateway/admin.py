"""The admin listener: liveness, readiness, metrics and the reload call."""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from config import hash_token
from gateway import metrics
from gateway.auth import bearer_token
from gateway.errors import ApiError

if TYPE_CHECKING:
    from gateway.server import Worker


def admin_app(worker: Worker) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        return _json({"status": "ok", "pid": os.getpid()})

    async def readyz(_request: web.Request) -> web.Response:
        cfg = worker.config
        body = {
            "ready": worker.ready,
            "pid": os.getpid(),
            "config": worker.config_path,
            "listeners": {"llm": f"{cfg.listeners.llm.host}:{cfg.listeners.llm.port}"},
            "dependencies": {"budget_store": cfg.budget.store, "audit_sink": cfg.audit.sink},
        }
        return _json(body, 200 if worker.ready else 503)

    async def prometheus(_request: web.Request) -> web.Response:
        data, content_type = metrics.render()
        return web.Response(body=data, headers={"Content-Type": content_type})

    async def reload(request: web.Request) -> web.Response:
        expected = worker.config.admin.token_sha256
        if expected is None:
            return ApiError(403, "the admin API is disabled: set admin.token_sha256", "permission_error").response()
        token = bearer_token(request.headers.get("Authorization"), None)
        if token is None or not hmac.compare_digest(hash_token(token), expected):
            metrics.AUTH_FAILURES.labels("admin").inc()
            return ApiError(401, "invalid admin token", "invalid_request_error", "invalid_api_key").response()
        if not worker.request_reload():
            return ApiError(
                400, "the config file is invalid; the old config stays in force (see the log)", code="invalid_config"
            ).response()
        return _json({"reloaded": True})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", prometheus)
    app.router.add_post("/admin/reload", reload)
    return app


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
