"""AWS on the egress door: STS AssumeRole per agent, SigV4 re-signing of intercepted requests.

The sandbox may run any AWS SDK with dummy credentials. tollgate throws its signature, date and
session token away, obtains temporary credentials for the agent (AssumeRole of the rule's role,
`RoleSessionName` and session tags naming agent, team and org, so CloudTrail attributes every
call), caches them until shortly before they expire, and signs the request again with botocore's
SigV4 signer for the region and service the client signed for (or the rule's).

Requests that cannot be re-signed safely are refused with 403 and a reason:
- presigned URLs (the signature is in the query; re-signing would make a URL the agent could
  hand out, carrying tollgate's credentials): `presigned_url`;
- chunk-signed uploads (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD…`: every chunk carries a signature
  chained to the client's key): `streaming_signed_payload`;
- SigV4A (`AWS4-ECDSA-P256-SHA256`, multi-region): `sigv4a_not_supported`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from urllib.parse import parse_qsl

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from egress.credentials import AwsSpec, CredentialError, Headers, Identity, OutgoingRequest

# botocore logs canonical requests (with the session token) at DEBUG: never let that through.
logging.getLogger("botocore").setLevel(logging.WARNING)

# Credentials are renewed this long before they expire: AWS SDKs refresh 5-15 minutes ahead
# (botocore: 15 advisory, 10 mandatory), and a request signed now must still be valid when it lands.
REFRESH_BEFORE_S = 300.0
STS_CONNECT_TIMEOUT_S = 5.0
STS_READ_TIMEOUT_S = 10.0

# RoleSessionName: 2-64 of [\w+=,.@-]. Session tag keys: 1-128, values: 0-256, of letters, digits,
# spaces and _ . : / = + - @ (STS API reference, Tag data type). Agent ids are already narrower.
_SESSION_NAME_BAD = re.compile(r"[^\w+=,.@-]", re.ASCII)
_TAG_BAD = re.compile(r"[^\w .:/=+\-@]", re.ASCII)
_SCOPE = re.compile(r"Credential=[^/,\s]*/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_PRESIGN_PARAMS = frozenset({"x-amz-signature", "x-amz-credential", "x-amz-algorithm", "signature", "awsaccesskeyid"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Payload hashes tollgate can sign over as they are: the body is not signed chunk by chunk.
_PASS_PAYLOADS = frozenset({"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
# What SDKs sign besides x-amz-*: used when the client's own list is unknown.
_DEFAULT_SIGNED = frozenset({"host", "content-type", "content-md5"})


# --- pure decisions -------------------------------------------------------------------------


def session_name(agent_id: str) -> str:
    name = _SESSION_NAME_BAD.sub("-", f"tollgate-{agent_id}")
    return name[:64]


def session_tags(who: Identity) -> list[dict[str, str]]:
    return [
        {"Key": key, "Value": _TAG_BAD.sub("-", value)[:256]}
        for key, value in (("agent", who.agent_id), ("team", who.team_id), ("org", who.org_id))
    ]


def _get(headers: Headers, name: bytes) -> str | None:
    for n, v in headers:
        if n.lower() == name:
            return v.decode("latin-1")
    return None


def signing_plan(spec: AwsSpec, request: OutgoingRequest) -> tuple[str, str, frozenset[str]]:
    """(region, service, header names to sign) for a request, or CredentialError saying why it
    cannot be re-signed."""
    query = request.target.partition("?")[2]
    if query and any(k.lower() in _PRESIGN_PARAMS for k, _ in parse_qsl(query, keep_blank_values=True)):
        raise CredentialError(403, "presigned_url", "presigned URLs cannot be re-signed; sign requests in the header")
    auth = _get(request.client_headers, b"authorization") or ""
    if auth.startswith("AWS4-ECDSA-P256-SHA256") or _get(request.client_headers, b"x-amz-region-set") is not None:
        raise CredentialError(403, "sigv4a_not_supported", "SigV4A (multi-region) requests cannot be re-signed")
    payload = _get(request.client_headers, b"x-amz-content-sha256")
    if payload is not None:
        if payload.startswith("STREAMING-") and payload not in _PASS_PAYLOADS:
            raise CredentialError(
                403, "streaming_signed_payload", f"{payload} uploads sign each chunk with the client's key; "
                "use an unsigned payload (the default of current SDKs over HTTPS)",
            )  # fmt: skip
        if payload not in _PASS_PAYLOADS and not _HEX64.fullmatch(payload):
            raise CredentialError(400, "bad_payload_hash", "x-amz-content-sha256 is not a SHA-256 or a known mode")
    scope = _SCOPE.search(auth)
    region = spec.region or (scope.group(1) if scope else None)
    service = spec.service or (scope.group(2) if scope else None)
    if region is None or service is None:
        raise CredentialError(
            403, "aws_scope_unknown", "the request is not signed, so its region and service are unknown; "
            "set region and service on the rule",
        )  # fmt: skip
    signed = re.search(r"SignedHeaders=([a-z0-9;-]+)", auth)
    names = frozenset(signed.group(1).split(";")) if signed else _DEFAULT_SIGNED
    names |= {n.decode("latin-1").lower() for n, _ in request.headers if n.lower().startswith(b"x-amz-")}
    return region, service, (names | {"host"}) - AwsSpec.strips


class _S3Signer(SigV4Auth):
    """S3 signs the path exactly as sent, without normalizing or encoding it twice: botocore's
    S3SigV4Auth does the same, but also replaces the payload hash, which tollgate must keep."""

    def _normalize_url_path(self, path: str) -> str:
        return path


def sign(creds: Credentials, region: str, service: str, names: frozenset[str], request: OutgoingRequest) -> Headers:
    """The upstream headers with a fresh SigV4 signature (and x-amz-date, session token)."""
    headers = list(request.headers)
    if service == "s3" and _get(headers, b"x-amz-content-sha256") is None:
        headers.append((b"x-amz-content-sha256", sha256(request.body or b"").hexdigest().encode()))
    to_sign = HTTPHeaders()
    for n, v in headers:
        if n.decode("latin-1").lower() in names:
            to_sign[n.decode("latin-1")] = v.decode("latin-1")  # appends: repeated headers stay repeated
    authority = request.host if request.port == 443 else f"{request.host}:{request.port}"
    aws = AWSRequest(method=request.method, url=f"https://{authority}{request.target}", data=request.body or b"")
    aws.headers = to_sign
    (_S3Signer if service == "s3" else SigV4Auth)(creds, service, region).add_auth(aws)
    added = [(b"authorization", aws.headers["Authorization"]), (b"x-amz-date", aws.headers["X-Amz-Date"])]
    if creds.token:
        added.append((b"x-amz-security-token", creds.token))
    return headers + [(n, v.encode("latin-1")) for n, v in added]


# --- temporary credentials ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Temporary:
    credentials: Credentials
    expires: float  # time.time()


Fetch = Callable[[], Awaitable[Temporary]]


class CredentialCache:
    """Temporary credentials per (role, agent …), renewed `refresh_before_s` ahead of expiry;
    one fetch in flight per key however many requests wait for it. Entries are bounded by the
    config (agents times AWS rules): expired ones are dropped."""

    def __init__(self, refresh_before_s: float = REFRESH_BEFORE_S, clock: Callable[[], float] = time.time) -> None:
        self.refresh_before_s = refresh_before_s
        self.clock = clock
        self._entries: dict[tuple[str, ...], Temporary] = {}
        self._inflight: dict[tuple[str, ...], asyncio.Future[Temporary]] = {}

    async def get(self, key: tuple[str, ...], fetch: Fetch) -> Credentials:
        entry = self._entries.get(key)
        if entry is not None and entry.expires - self.clock() > self.refresh_before_s:
            return entry.credentials
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(fetch())
            self._inflight[key] = pending
            pending.add_done_callback(lambda f: self._settle(key, f))
        return (await asyncio.shield(pending)).credentials

    def _settle(self, key: tuple[str, ...], future: asyncio.Future[Temporary]) -> None:
        self._inflight.pop(key, None)
        # Expired entries go whenever one is stored: agents removed by a reload do not stay.
        now = self.clock()
        for stale in [k for k, e in self._entries.items() if e.expires <= now]:
            del self._entries[stale]
        if not future.cancelled() and future.exception() is None:
            self._entries[key] = future.result()
        else:
            self._entries.pop(key, None)


class AssumedRoles:
    """STS AssumeRole through botocore, off the event loop, cached per agent and role."""

    def __init__(self, cache: CredentialCache | None = None) -> None:
        self.cache = cache or CredentialCache()
        self._clients: dict[tuple[Any, ...], Any] = {}

    async def credentials(self, spec: AwsSpec, who: Identity, secrets: Mapping[str, str]) -> Credentials:
        base: tuple[str, str] | None = None
        if spec.access_key_secret and spec.secret_key_secret:
            key_id, secret = secrets.get(spec.access_key_secret), secrets.get(spec.secret_key_secret)
            if not key_id or not secret:
                raise CredentialError(502, "missing_secret:aws", "tollgate's own AWS key is not configured")
            base = (key_id, secret)
        key = (spec.role_arn, spec.external_id or "", str(spec.duration_s), spec.sts_endpoint or "", spec.sts_region,
               base[0] if base else "", who.agent_id, who.team_id, who.org_id)  # fmt: skip
        client_key = (spec.sts_endpoint, spec.sts_region, base, spec.sts_ca_bundle)

        async def fetch() -> Temporary:
            return await asyncio.to_thread(self._assume, client_key, spec, who)

        return await self.cache.get(key, fetch)

    def _assume(self, client_key: tuple[Any, ...], spec: AwsSpec, who: Identity) -> Temporary:
        import botocore.exceptions

        try:
            client = self._client(client_key)
            args: dict[str, Any] = {"RoleArn": spec.role_arn, "RoleSessionName": session_name(who.agent_id),
                                    "DurationSeconds": spec.duration_s, "Tags": session_tags(who)}  # fmt: skip
            if spec.external_id:
                args["ExternalId"] = spec.external_id
            got = client.assume_role(**args)["Credentials"]
        except botocore.exceptions.ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", "error"))[:64]
            raise CredentialError(502, f"sts_refused:{code}", f"STS AssumeRole was refused ({code})") from None
        except botocore.exceptions.BotoCoreError as e:
            raise CredentialError(502, "sts_unreachable", f"STS AssumeRole failed ({e.__class__.__name__})") from None
        creds = Credentials(got["AccessKeyId"], got["SecretAccessKey"], got["SessionToken"])
        return Temporary(creds, got["Expiration"].timestamp())

    def _client(self, client_key: tuple[Any, ...]) -> Any:
        client = self._clients.get(client_key)
        if client is None:
            import botocore.config
            import botocore.session

            endpoint, region, base, ca_bundle = client_key
            session = botocore.session.Session()
            client = session.create_client(
                "sts",
                region_name=region,
                endpoint_url=endpoint,
                aws_access_key_id=base[0] if base else None,
                aws_secret_access_key=base[1] if base else None,
                verify=ca_bundle if ca_bundle else True,
                config=botocore.config.Config(
                    connect_timeout=STS_CONNECT_TIMEOUT_S, read_timeout=STS_READ_TIMEOUT_S,
                    retries={"max_attempts": 2, "mode": "standard"},
                ),
            )  # fmt: skip
            self._clients[client_key] = client
        return client


async def apply_aws(
    roles: AssumedRoles, spec: AwsSpec, who: Identity, secrets: Mapping[str, str], request: OutgoingRequest
) -> Headers:  # fmt: skip
    region, service, names = signing_plan(spec, request)  # refusals before any STS call
    creds = await roles.credentials(spec, who, secrets)
    return sign(creds, region, service, names, request)
