"""Cloud identities on intercepted requests: the agent as its own principal upstream.

The proxy calls one hook per intercepted request whose rule has a credential
(`CredentialBroker.apply`), after the client's copies of every header the credential sets have
been stripped (`Rule.credential.strips`, plus every `Impersonate-*` always) and before the
request is serialized upstream.

- AWS (egress.aws): STS AssumeRole per agent and SigV4 re-signing with botocore's signer.
- Kubernetes: tollgate's own service-account bearer token (a stored secret, or a projected token
  file re-read whenever it changes: the kubelet rewrites it well before expiry) and
  `Impersonate-User: tollgate:agent:<id>` with `Impersonate-Group` values from the rule, so the
  cluster's RBAC and audit log see each agent as itself.

The header sets are pure functions of the rule and the identity; only the token file and the
broker's caches do I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from config.schema import AwsCredential, KubernetesCredential

if TYPE_CHECKING:
    from egress.aws import AssumedRoles
    from egress.policy import Credential

__all__ = [
    "IMPERSONATED_USER_PREFIX",
    "AwsSpec",
    "CredentialBroker",
    "CredentialError",
    "KubernetesSpec",
    "OutgoingRequest",
    "TokenFile",
    "credential_spec",
    "impersonation_headers",
]

IMPERSONATED_USER_PREFIX = "tollgate:agent:"
# A projected service-account token is a JWT of about 1 KiB; 64 KiB is a file that is not one.
MAX_TOKEN_BYTES = 64 * 1024

Headers = list[tuple[bytes, bytes]]


class Identity(Protocol):
    """Who a request is for (read-only, so frozen dataclasses such as the LLM door's Principal fit)."""

    @property
    def agent_id(self) -> str: ...
    @property
    def team_id(self) -> str: ...
    @property
    def org_id(self) -> str: ...


class CredentialError(Exception):
    """The request cannot carry the rule's credential: status and a bounded reason for the 4xx/5xx
    answer and the audit row; the message never holds a credential."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    method: str
    target: str  # origin-form, normalized
    host: str
    port: int
    client_headers: Headers  # as the agent sent them
    headers: Headers  # what goes upstream so far: the client's minus stripped, plus injected
    body: bytes | None  # the whole body, when the credential asked for it (`needs_body`)


# --- Kubernetes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KubernetesSpec:
    token_secret: str | None
    token_file: str | None
    groups: tuple[str, ...]

    kind = "kubernetes"
    # Impersonate-* is stripped on every rule; the token replaces any Authorization.
    strips = frozenset({"authorization"})
    upgrades = frozenset({"spdy/3.1"})  # exec, attach and port-forward of kubectl before 1.30

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset({self.token_secret}) if self.token_secret else frozenset()

    def needs_body(self, headers: Headers) -> bool:
        return False


# The API server also takes a bearer token as a WebSocket subprotocol (browsers cannot set
# Authorization on a WebSocket): the client's credential in another spelling, removed like it.
_BEARER_SUBPROTOCOL = b"base64url.bearer.authorization.k8s.io."


def _without_bearer_subprotocol(headers: Headers) -> Headers:
    out: Headers = []
    for name, value in headers:
        if name.lower() == b"sec-websocket-protocol":
            offered = [p.strip() for p in value.split(b",")]
            kept = [p for p in offered if not p.lower().startswith(_BEARER_SUBPROTOCOL)]
            if not kept:
                continue
            value = b", ".join(kept) if len(kept) < len(offered) else value
        out.append((name, value))
    return out


def impersonation_headers(spec: KubernetesSpec, token: str, who: Identity) -> Headers:
    fields = {"{org}": who.org_id, "{team}": who.team_id, "{agent}": who.agent_id}
    out = [
        (b"authorization", f"Bearer {token}".encode("latin-1")),
        (b"impersonate-user", (IMPERSONATED_USER_PREFIX + who.agent_id).encode()),
    ]
    for template in spec.groups:
        group = template
        for field, value in fields.items():
            group = group.replace(field, value)
        out.append((b"impersonate-group", group.encode()))
    return out


class TokenFile:
    """A token file re-read when it changes (inode, size or mtime: the kubelet swaps a symlink)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int, int] | None = None
        self._token = ""

    def read(self) -> str:
        try:
            st = os.stat(self.path)
            stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if stamp != self._stamp:
                with open(self.path, "rb") as f:
                    data = f.read(MAX_TOKEN_BYTES + 1)
                self._token = _token_text(data)
                self._stamp = stamp
        except OSError as e:
            raise CredentialError(502, "credential_unavailable", f"the service-account token file cannot be read "
                                  f"({e.__class__.__name__})") from None  # fmt: skip
        return self._token


def _token_text(data: bytes) -> str:
    token = data.strip()
    if not token or len(data) > MAX_TOKEN_BYTES or any(b < 0x21 or b == 0x7F for b in token):
        raise CredentialError(502, "credential_unavailable", "the service-account token file holds no usable token")
    return token.decode("ascii", "replace")


# --- AWS (the signing and STS calls live in egress.aws, imported on first use: botocore is big) --


@dataclass(frozen=True, slots=True)
class AwsSpec:
    role_arn: str
    region: str | None
    service: str | None
    duration_s: int
    external_id: str | None
    sts_endpoint: str | None
    sts_region: str
    sts_ca_bundle: str | None
    access_key_secret: str | None
    secret_key_secret: str | None

    kind = "aws"
    # The sandbox's own AWS identity never goes upstream.
    strips = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})
    upgrades: frozenset[str] = frozenset()

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(n for n in (self.access_key_secret, self.secret_key_secret) if n)

    def needs_body(self, headers: Headers) -> bool:
        """Without x-amz-content-sha256 the signature covers the body's hash: read it first."""
        return not any(n.lower() == b"x-amz-content-sha256" for n, _ in headers)


def credential_spec(c: KubernetesCredential | AwsCredential) -> KubernetesSpec | AwsSpec:
    """The runtime form of a rule's `credential:` setting."""
    if isinstance(c, AwsCredential):
        return AwsSpec(c.role_arn, c.region, c.service, c.duration_s, c.external_id, c.sts_endpoint, c.sts_region,
                       c.sts_ca_bundle, c.access_key_secret, c.secret_key_secret)  # fmt: skip
    return KubernetesSpec(c.token_secret, c.token_file, tuple(c.groups))


# --- the broker -----------------------------------------------------------------------------


class CredentialBroker:
    """Applies rules' credentials; owned by the proxy, so its caches outlive config reloads."""

    def __init__(self) -> None:
        self._token_files: dict[str, TokenFile] = {}
        self._aws: AssumedRoles | None = None

    def _token(self, spec: KubernetesSpec, secrets: Mapping[str, str]) -> str:
        if spec.token_secret is not None:
            token = secrets.get(spec.token_secret)
            if not token:
                raise CredentialError(502, f"missing_secret:{spec.token_secret}", "the credential is not configured")
            return token
        assert spec.token_file is not None
        source = self._token_files.get(spec.token_file)
        if source is None:
            source = self._token_files[spec.token_file] = TokenFile(spec.token_file)
        return source.read()

    async def apply(
        self, spec: Credential, who: Identity, secrets: Mapping[str, str], request: OutgoingRequest
    ) -> Headers:
        """The headers to send upstream; CredentialError when the request cannot carry them."""
        if isinstance(spec, KubernetesSpec):
            token = self._token(spec, secrets)
            return _without_bearer_subprotocol(request.headers) + impersonation_headers(spec, token, who)
        if not isinstance(spec, AwsSpec):
            raise TypeError(f"no credential broker for {spec.kind!r}")
        from egress.aws import AssumedRoles, apply_aws

        if self._aws is None:
            self._aws = AssumedRoles()
        return await apply_aws(self._aws, spec, who, secrets, request)
