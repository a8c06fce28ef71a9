"""The admin listener: liveness, readiness, metrics and the reload call.

It reads its worker through `AdminView`, the few things an operator may ask about or do, and
never imports the process core (`gateway.server` builds this app, not the other way round).
"""

from __future__ import annotations

import hmac
import os
import time
from typing import Any, Protocol

import orjson
from aiohttp import web

import audit
from budget import BudgetGuard, budget_report
from config import Config, hash_token
from gateway import metrics
from gateway.auth import bearer_token
from gateway.errors import ApiError
from gateway.llm import new_request_id


class AdminView(Protocol):
    """What the admin API sees of a worker (`gateway.server.Worker` is one)."""

    @property
    def ready(self) -> bool: ...  # config loaded, listeners up
    @property
    def config(self) -> Config: ...  # the version in force: it changes on reload
    @property
    def config_path(self) -> str: ...
    @property
    def guard(self) -> BudgetGuard: ...
    @property
    def audit_reader(self) -> audit.Reader: ...
    def request_reload(self) -> bool: ...  # False: the file is invalid, the old config stays


_T0 = web.RequestKey("t0", float)  # when the request came in, for the audit row's latency
_RID = web.RequestKey("rid", str)  # the request id: the x-request-id header and the audit row, as on the doors


def admin_app(worker: AdminView) -> web.Application:
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

    def refused(request: web.Request) -> web.Response | None:
        expected = worker.config.admin.token_sha256
        if expected is None:
            return ApiError(403, "the admin API is disabled: set admin.token_sha256", "permission_error").response()
        token = bearer_token(request.headers.get("Authorization"), None)
        if token is None or not hmac.compare_digest(hash_token(token), expected):
            metrics.AUTH_FAILURES.labels("admin").inc()
            audit.emit(
                audit.AuditEvent(
                    "auth", "authenticate", "denied", request[_RID], actor_type="anonymous", resource=request.path,
                    status=401,
                    detail={"door": "admin", "reason": "missing_token" if token is None else "invalid_token"},
                )
            )  # fmt: skip
            return ApiError(401, "invalid admin token", "invalid_request_error", "invalid_api_key").response()
        return None

    def audited(
        request: web.Request, action: str, response: web.Response, org_id: str = "", **detail: Any
    ) -> web.Response:
        """Every admin call that passed authentication leaves one event (the reads too)."""
        status = response.status
        result: audit.Result = "allowed" if status < 400 else ("error" if status >= 500 else "denied")
        audit.emit(
            audit.AuditEvent(
                "admin", action, result, request[_RID], org_id=org_id, actor_type="admin", actor_id="admin",
                resource=request.path,
                status=status, latency_ms=round((time.perf_counter() - request[_T0]) * 1000, 3), detail=detail,
            )
        )  # fmt: skip
        return response

    async def reload(request: web.Request) -> web.Response:
        if (denied := refused(request)) is not None:
            return denied
        if not worker.request_reload():
            return audited(
                request,
                "reload",
                ApiError(
                    400, "the config file is invalid; the old config stays in force (see the log)",
                    code="invalid_config",
                ).response(),
            )  # fmt: skip
        return audited(request, "reload", _json({"reloaded": True}))

    async def budgets(request: web.Request) -> web.Response:
        if (denied := refused(request)) is not None:
            return denied
        org_id = request.query.get("org", "")
        org = next((o for o in worker.config.orgs if o.id == org_id), None)
        if org is None:
            return audited(request, "budgets.read", _unknown_org(org_id))
        try:
            rows = await budget_report(worker.guard, org)
        except Exception:  # the report is best effort; the store being down is the likely cause
            error = ApiError(503, "the budget store did not answer", "budget_unavailable").response()
            return audited(request, "budgets.read", error, org.id)
        return audited(
            request,
            "budgets.read",
            _json({"org": org.id, "store": worker.config.budget.store, "counters": rows}),
            org.id,
        )

    async def audit_query(request: web.Request) -> web.Response:
        """One org's events, newest first, a keyset page at a time (`next_cursor` → `?cursor=`)."""
        if (denied := refused(request)) is not None:
            return denied
        params = {k.replace("-", "_"): v for k, v in request.query.items()}
        fmt = params.pop("format", "json")
        if fmt not in audit.FORMATS:
            error = ApiError(400, f"format must be one of {', '.join(audit.FORMATS)}, got {fmt!r}", param="format")
            return audited(request, "audit.query", error.response())
        unknown = set(params) - QUERY_PARAMS
        if unknown:
            error = ApiError(400, f"unknown parameter {sorted(unknown)[0]!r}", param=sorted(unknown)[0])
            return audited(request, "audit.query", error.response())
        try:
            query = audit.build_query(params)
        except audit.QueryError as e:
            param = str(e).split(":", 1)[0]
            return audited(request, "audit.query", ApiError(400, str(e), param=param).response())
        if not any(o.id == query.org_id for o in worker.config.orgs) and query.org_id != audit.SYSTEM_ORG:
            return audited(request, "audit.query", _unknown_org(query.org_id))
        try:
            page = await worker.audit_reader.page(query)
        except audit.ReadError as e:
            unavailable = ApiError(503, str(e), "audit_unavailable").response()
            return audited(request, "audit.query", unavailable, query.org_id)
        headers = {"x-tollgate-next-cursor": page.next_cursor} if page.next_cursor else {}
        content_type = {"json": "application/json", "csv": "text/csv", "table": "text/plain"}[fmt]
        response = web.Response(body=audit.render(page, fmt), content_type=content_type, headers=headers)
        return audited(request, "audit.query", response, query.org_id, rows=len(page.rows))

    @web.middleware
    async def started(request: web.Request, handler: Any) -> web.StreamResponse:
        request[_T0] = time.perf_counter()
        request[_RID] = rid = new_request_id()
        try:
            response = await handler(request)
        except web.HTTPMethodNotAllowed as e:  # the router's own refusals, in the API's error shape
            use = ", ".join(sorted(e.allowed_methods - {"HEAD"}))
            message = f"{request.method} is not allowed on {request.path}: use {use}"
            allow = {"Allow": ", ".join(sorted(e.allowed_methods))}
            response = ApiError(405, message, code="method_not_allowed", headers=allow).response()
        except web.HTTPNotFound:
            response = ApiError(404, f"unknown route {request.method} {request.path}", code="unknown_route").response()
        response.headers["x-request-id"] = rid
        return response

    app = web.Application(middlewares=[started])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", prometheus)
    app.router.add_post("/admin/reload", reload)
    app.router.add_get("/admin/budgets", budgets)
    app.router.add_get("/admin/audit", audit_query)
    return app


QUERY_PARAMS = {
    "org",
    "agent",
    "with_subagents",
    "since",
    "until",
    "surface",
    "result",
    "request_id",
    "limit",
    "cursor",
}


def _unknown_org(org_id: str) -> web.Response:
    return ApiError(404, f"no org {org_id!r} in the config (use ?org=ID)", code="unknown_org").response()


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
