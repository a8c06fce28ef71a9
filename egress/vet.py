"""Vetting one intercepted or plain-HTTP request: a refusal with its reason, or the plan of what
goes upstream. Pure: header lists in, a value out; the door maps reasons to status codes.

Checks, in order: method spelling, unambiguous framing, Host equal to the tunnel's host, the
rule's methods and paths, upgrade policy (WebSocket only), credentials only over TLS. The plan
drops hop-by-hop headers and every client-sent spelling of what tollgate injects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from egress.framing import framing_problem
from egress.hosts import HostError, parse_authority
from egress.paths import merges_segments, normalize_target
from egress.policy import InjectError, Rule, RuleDecision, RuleSet, strips_parsed

Headers = list[tuple[bytes, bytes]]
HeaderSeq = Sequence[tuple[bytes, bytes]]  # h11's parsed headers, or a list

HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
# RFC 9110 §9.2.2: a request the client may repeat, so a proxy may too when a reused upstream
# connection dies before answering (Go's http.Transport and Envoy retry the same set).
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})

# Status per refusal reason (the part before any `:`); policy refusals not listed are 403.
_STATUS = {
    "bad_method": 400,
    "content_length_and_transfer_encoding": 400,
    "duplicate_content_length": 400,
    "bad_transfer_encoding": 400,
    "missing_host": 400,
    "duplicate_host": 400,
    "upgrade_not_supported": 501,
    "body_too_large_to_sign": 413,
    "credential_unavailable": 502,
    "missing_secret": 502,
    "bad_secret_value": 502,
}
_MESSAGE = {
    "host_mismatch": "the Host header does not match the tunnel's host",
    "upgrade_not_supported": "only WebSocket upgrades are relayed",
    "inject_requires_tls": "credentials are injected over TLS only: use https://",
    "body_too_large_to_sign": "the request body is too large to be signed",
    "missing_secret": "a credential for this destination is not configured",
    "bad_secret_value": "a credential for this destination is not configured",
    "aws_path_not_literal": "a path with '.', '..' or empty segments or ';' would reach AWS as another path "
    "(S3: another object key) once normalized, so it is refused",
}


def status_for(reason: str) -> int:
    return _STATUS.get(reason.partition(":")[0], 403)


def message_for(reason: str, method: str, path: str) -> str:
    kind = reason.partition(":")[0]
    if kind in _MESSAGE:
        return _MESSAGE[kind]
    if status_for(reason) == 400:
        return "ambiguous request framing" if kind != "bad_method" else "HTTP methods are upper case"
    return f"{method} {path} is not allowed ({reason})"


@dataclass(frozen=True, slots=True)
class ForwardPlan:
    """What goes upstream for an allowed request."""

    method: bytes
    target: bytes  # normalized path, raw query
    headers: Headers
    client_headers: HeaderSeq  # as the agent sent them (a credential may sign some)
    host_header: str  # the Host value that matched: keep-alive requests repeat it
    upgrade: str | None  # the protocol asked for (lower case): websocket, or one the credential allows
    idempotent: bool


def upgrade_headers(protocol: str) -> Headers:
    return [(b"connection", b"Upgrade"), (b"upgrade", protocol.encode("latin-1"))]


def header(headers: HeaderSeq, name: bytes) -> str | None:
    for n, v in headers:
        if n == name:
            return v.decode("latin-1")
    return None


def vet_request(
    rule: Rule,
    host: str,
    port: int,
    method: bytes,
    target: bytes,
    headers: HeaderSeq,
    tls: bool,
    credentials: Callable[[Rule], Headers],
    matched_host_header: str | None = None,
) -> RuleDecision | ForwardPlan:
    """`host:port` is the tunnel's (canonical); `credentials` renders the rule's injected headers
    (raising InjectError); `matched_host_header` skips re-parsing a Host value already accepted."""

    def refuse(reason: str) -> RuleDecision:
        return RuleDecision(False, reason, rule)

    if method != method.upper():  # methods are case-sensitive: "get" is not the GET a rule allows
        return refuse("bad_method")
    problem = framing_problem(headers)
    if problem is not None:
        return refuse(problem)
    host_header = header(headers, b"host")
    assert host_header is not None  # framing_problem demands exactly one
    if host_header != matched_host_header:
        try:
            if parse_authority(host_header, port) != (host, port):
                return refuse("host_mismatch")
        except HostError:
            return refuse("host_mismatch")
    decision = RuleSet.decide_request(rule, method, target)
    if not decision.allowed:
        return decision
    upgrade = header(headers, b"upgrade")
    if upgrade is not None:
        upgrade = upgrade.strip().lower()
        # Kubernetes exec/attach/port-forward also speak SPDY/3.1 (kubectl before 1.30).
        if upgrade != "websocket" and (rule.credential is None or upgrade not in rule.credential.upgrades):
            return refuse("upgrade_not_supported")
    if (rule.inject or rule.credential) and not tls:
        return refuse("inject_requires_tls")
    # S3 object keys are literal names: `a/./b`, `a//b` or `/a` normalized would be signed and
    # stored as another object, so such a request is refused rather than silently redirected.
    if rule.credential is not None and rule.credential.kind == "aws" and merges_segments(target.decode("latin-1")):
        return refuse("aws_path_not_literal")
    try:
        injected = credentials(rule)
    except InjectError as e:
        return refuse(e.reason)
    # Expect is answered by the door (it reads the body before it dials), not passed on.
    strip = rule.strip_names
    out = [(n, v) for n, v in headers if n not in HOP_BY_HOP and n != b"expect" and not strips_parsed(n, strip)]
    if header(headers, b"transfer-encoding") is not None:
        out.append((b"transfer-encoding", b"chunked"))  # re-framed chunked (framing_problem let no other through)
    out += injected
    if upgrade is not None:
        out += upgrade_headers(upgrade)
    return ForwardPlan(
        method=method,
        target=normalize_target(target.decode("latin-1")).encode(),
        headers=out,
        client_headers=headers,
        host_header=host_header,
        upgrade=upgrade,
        idempotent=method in IDEMPOTENT,
    )
