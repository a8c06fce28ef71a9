"""The configuration file's schema: what operators may write, validated once at load.

Every model forbids unknown keys, so a typo is an error naming its path rather than a
silently ignored setting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from budget.resp import Target

_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
ID_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # org, team and agent ids

Id = Annotated[str, Field(pattern=ID_RE)]
Port = Annotated[int, Field(ge=0, le=65535)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listener(Strict):
    host: str = "127.0.0.1"
    port: Port


class Listeners(Strict):
    llm: Listener = Listener(port=8080)
    egress: Listener = Listener(port=3128)
    admin: Listener = Listener(port=8090)
    # Also serve the egress door on this Unix socket (for `tollgate sandbox` relays and sidecars).
    egress_unix: str | None = Field(None, min_length=1, max_length=107)


class Limits(Strict):
    # 8 MiB: a 128k-token prompt with images as URLs fits; base64 images need a raise.
    max_body_bytes: int = Field(8 * 1024 * 1024, gt=0)
    upstream_connect_timeout_s: float = Field(5.0, gt=0)
    # Time to the first byte and between bytes; long generations stream, so no total cap.
    upstream_read_timeout_s: float = Field(300.0, gt=0)
    shutdown_grace_s: float = Field(30.0, ge=0)
    upstream_pool_size: int = Field(256, gt=0)
    # The NER tier runs in its own processes; a detection slower than this fails (closed).
    ner_processes: int = Field(1, gt=0, le=16)
    ner_timeout_s: float = Field(5.0, gt=0)


class Model(Strict):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["chat", "embedding"] = "chat"
    upstream_name: str | None = None
    input_usd_per_1m: float = Field(0.0, ge=0)
    output_usd_per_1m: float = Field(0.0, ge=0)
    max_output_tokens: int = Field(4096, gt=0)


class MockSettings(Strict):
    chunks: int = Field(8, gt=0, le=10_000)
    latency_ms: float = Field(0.0, ge=0)
    chunk_delay_ms: float = Field(0.0, ge=0)
    embedding_dims: int = Field(16, gt=0, le=8192)


# The Messages API version sent when the agent names none (the one every current model accepts).
ANTHROPIC_VERSION = "2023-06-01"
_BASE_URL_EXAMPLES = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


class Provider(Strict):
    """A model provider. `openai`: Chat Completions, Completions, Embeddings and the Responses API
    under base_url (which ends in /v1). `anthropic`: the Messages API under base_url (without /v1,
    as the Anthropic SDKs take it). `mock`: built in, speaks both."""

    name: Id
    kind: Literal["openai", "anthropic", "mock"]
    base_url: str | None = None
    api_key: str | None = None
    mock: MockSettings = MockSettings()
    # `anthropic-version` toward the provider when the agent sends none.
    anthropic_version: str = ANTHROPIC_VERSION
    # Responses API: let the provider keep conversation state (`store`, `previous_response_id`).
    # Off by default: stored conversations live upstream (masked), outside this request's vault.
    responses_state: bool = False
    models: list[Model] = Field(min_length=1)

    @model_validator(mode="after")
    def _base_url_for_http(self) -> Provider:
        if self.kind in _BASE_URL_EXAMPLES:
            if not self.base_url:
                raise ValueError(f"kind {self.kind!r} needs base_url (e.g. {_BASE_URL_EXAMPLES[self.kind]})")
            if not self.base_url.startswith(("http://", "https://")):
                raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if self.responses_state and self.kind != "openai":
            raise ValueError("responses_state applies to kind 'openai' only (the mock keeps no state)")
        return self


class Budget(Strict):
    """Spending limits of one org, team or agent, in USD per calendar period (UTC)."""

    daily_usd: float | None = Field(None, gt=0)
    monthly_usd: float | None = Field(None, gt=0)
    total_usd: float | None = Field(None, gt=0)
    # Lower max_tokens to what is left instead of refusing, while at least
    # budget.clamp_min_tokens output tokens still fit.
    clamp_max_tokens: bool = False


SecretName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]
_GROUP_FIELDS = ("{org}", "{team}", "{agent}")


class KubernetesCredential(Strict):
    """tollgate's own service-account token upstream, impersonating the agent (Kubernetes API)."""

    kind: Literal["kubernetes"]
    token_secret: SecretName | None = None  # the token from the secret store (or `secrets:`)
    token_file: str | None = None  # or a projected token file, re-read whenever the kubelet rotates it
    # Impersonate-Group values; {org}, {team} and {agent} are filled in per request.
    groups: list[str] = ["tollgate:org:{org}", "tollgate:team:{org}:{team}"]

    @model_validator(mode="after")
    def _one_token_source(self) -> KubernetesCredential:
        if (self.token_secret is None) == (self.token_file is None):
            raise ValueError("set exactly one of token_secret (a stored secret) or token_file (a projected token)")
        for g in self.groups:
            rest = g
            for f in _GROUP_FIELDS:
                rest = rest.replace(f, "")
            if not g or "{" in rest or "}" in rest or any(ord(c) < 0x20 or ord(c) == 0x7F for c in g):
                raise ValueError(f"groups: {g!r} is not a group name (placeholders: {', '.join(_GROUP_FIELDS)})")
        return self


class AwsCredential(Strict):
    """Temporary credentials per agent from STS AssumeRole; requests are re-signed with SigV4."""

    kind: Literal["aws"]
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+$", max_length=600)
    # Default: the region and service the client signed for (its SDK knows them best).
    region: str | None = Field(None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
    service: str | None = Field(None, pattern=r"^[a-z0-9-]{1,64}$")
    duration_s: int = Field(3600, ge=900, le=43200)  # STS's own bounds for AssumeRole
    external_id: str | None = Field(None, min_length=2, max_length=1224)
    sts_endpoint: str | None = None  # default: the regional STS endpoint of sts_region
    sts_region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
    sts_ca_bundle: str | None = None  # trust store for the STS endpoint; None: the system's
    # tollgate's own key for calling STS, from the secret store; absent: botocore's default chain
    # (tollgate's environment, instance profile, IRSA …).
    access_key_secret: SecretName | None = None
    secret_key_secret: SecretName | None = None

    @model_validator(mode="after")
    def _key_pair(self) -> AwsCredential:
        if (self.access_key_secret is None) != (self.secret_key_secret is None):
            raise ValueError("set both access_key_secret and secret_key_secret, or neither (default credential chain)")
        # STS answers with the assumed role's secret key and session token: TLS only.
        if self.sts_endpoint is not None and not self.sts_endpoint.startswith("https://"):
            raise ValueError(f"sts_endpoint must be an https:// URL, got {self.sts_endpoint!r}")
        return self


class EgressRule(Strict):
    """One allowed destination. Host patterns are exact names or a strict leading `*.` wildcard."""

    name: str = ""
    hosts: list[str] = Field(min_length=1)
    ports: list[Port] = [443, 80]
    methods: list[str] | None = None  # intercept mode only; None: any method
    paths: list[str] | None = None  # intercept mode only; None: any path
    mode: Literal["tunnel", "intercept"] = "tunnel"
    # Loopback and private targets are refused unless a rule says so explicitly.
    allow_private: bool = False
    # Headers set on every intercepted request, e.g. {"Authorization": "Bearer {secret:github}"}.
    inject: dict[str, str] = {}
    # A cloud identity for the agent on this destination (intercept mode).
    credential: Annotated[KubernetesCredential | AwsCredential, Field(discriminator="kind")] | None = None

    @model_validator(mode="after")
    def _inspection_needs_intercept(self) -> EgressRule:
        if self.mode == "tunnel" and (self.methods or self.paths or self.inject or self.credential):
            raise ValueError("methods, paths, inject and credential need mode: intercept (a tunnel is not inspected)")
        if self.credential is not None and any(h.lower().replace("_", "-") == "authorization" for h in self.inject):
            raise ValueError("inject.Authorization: the credential sets Authorization itself; remove one of them")
        return self


class EgressPolicy(Strict):
    rules: list[EgressRule] = []


class EgressSettings(Strict):
    # Where to write the CA bundle (public certificates) for sandboxes to trust, rewritten at each
    # rotation; None: only /ca.pem.
    ca_cert_path: str | None = None
    # Each interception CA's validity; a new CA takes over every third of it (egress/rotation.py).
    # A week: a CA that lives in memory only buys nothing with a long life (CA/B ballot SC-063
    # calls <= 7 days short-lived).
    ca_validity_s: float = Field(7 * 86400.0, ge=3)
    # Trust store for upstream TLS; None: the system's.
    upstream_ca_bundle: str | None = None
    connect_timeout_s: float = Field(10.0, gt=0)
    idle_timeout_s: float = Field(300.0, gt=0)
    tunnel_max_bytes: int = Field(10 * 1024**3, gt=0)
    tunnel_max_duration_s: float = Field(3600.0, gt=0)
    # Pooled upstream connections: origins drop idle keep-alive connections after 5 s (Node.js,
    # Apache) to 60-75 s (nginx); Go's http.Transport keeps idle ones 90 s. 4 s stays under the
    # shortest common origin timer; a connection that dies anyway is retried once (idempotent).
    upstream_idle_s: float = Field(4.0, gt=0)
    upstream_max_age_s: float = Field(300.0, gt=0)
    # Static name → addresses, used instead of DNS for these names (like curl --resolve); the
    # addresses are vetted exactly like DNS answers.
    resolve: dict[str, list[str]] = {}


# The pattern tier's entity types; pii.detect.TYPES is the same set (a test holds them together).
PII_PATTERN_TYPES = (
    "EMAIL", "PHONE", "IP_ADDRESS", "DATE_OF_BIRTH", "CREDIT_CARD", "IBAN", "NATIONAL_ID", "API_KEY", "JWT",
    "CONNECTION_STRING", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PRIVATE_KEY",
)  # fmt: skip
PII_NER_TYPES = ("PERSON", "ORGANIZATION", "LOCATION")
PiiType = Literal[
    "EMAIL", "PHONE", "IP_ADDRESS", "DATE_OF_BIRTH", "CREDIT_CARD", "IBAN", "NATIONAL_ID", "API_KEY", "JWT",
    "CONNECTION_STRING", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PRIVATE_KEY", "PERSON", "ORGANIZATION", "LOCATION",
]  # fmt: skip


class PiiPolicy(Strict):
    """What PII handling a scope gets; the nearest scope that sets one wins (agent, team, org)."""

    enabled: bool = True
    types: list[PiiType] | None = None  # None: every pattern type, plus the NER types when ner is on
    actions: dict[PiiType, Literal["mask", "block", "allow"]] = {}  # default: mask
    ner: bool = False
    unmask_responses: bool = True
    fail_closed: bool = True


class Agent(Strict):
    id: Id
    # A subagent names its parent agent (same org, one level only); its events carry parent_actor_id.
    parent: Id | None = None
    tokens: list[str] = []
    models: list[str] | None = None
    budget: Budget | None = None
    pii: PiiPolicy | None = None
    egress: EgressPolicy | None = None

    @field_validator("tokens")
    @classmethod
    def _hashes_only(cls, tokens: list[str]) -> list[str]:
        for t in tokens:
            if not _HASH_RE.match(t):
                hint = " (run `tollgate token create --agent ID` for a hash line)"
                if t.startswith("tg-"):
                    hint = "; this looks like a raw token: store only its hash" + hint
                raise ValueError(f"must be 'sha256:' followed by 64 lower-case hex digits{hint}")
        return tokens


class Team(Strict):
    id: Id
    models: list[str] | None = None
    budget: Budget | None = None
    pii: PiiPolicy | None = None
    egress: EgressPolicy | None = None
    agents: list[Agent] = []


class Org(Strict):
    id: Id
    models: list[str] | None = None
    budget: Budget | None = None
    pii: PiiPolicy | None = None
    egress: EgressPolicy | None = None
    teams: list[Team] = []


class Admin(Strict):
    token_sha256: str | None = None

    @field_validator("token_sha256")
    @classmethod
    def _hash(cls, v: str | None) -> str | None:
        if v is not None and not _HASH_RE.match(v):
            raise ValueError("must be 'sha256:' followed by 64 lower-case hex digits")
        return v


class Audit(Strict):
    sink: Literal["local", "postgres", "none"] = "local"
    path: str = "var/audit.jsonl"  # the local sink's JSON-lines file
    # Events held in memory per worker; with the postgres sink, past half of it the oldest
    # batches go to the spool while the database is away.
    queue_size: int = Field(100_000, gt=0)
    # A batch is written when this many events are queued or flush_interval_s has passed.
    batch_size: int = Field(1000, gt=0, le=100_000)
    flush_interval_s: float = Field(0.5, gt=0)
    # postgres sink: postgresql://user[:password]@host[:port]/database (often ${AUDIT_DSN}).
    dsn: str | None = None
    auto_migrate: bool = True  # create/upgrade the schema at start (as `tollgate db migrate` does)
    connect_timeout_s: float = Field(5.0, gt=0)
    write_timeout_s: float = Field(30.0, gt=0)  # a batch slower than this counts as failed
    retry_max_s: float = Field(5.0, gt=0)  # the back-off cap between attempts while the database is away
    spool_dir: str = "var/audit-spool"  # one append-only file per worker
    spool_max_bytes: int = Field(1024**3, gt=0)  # per worker; beyond it events are dropped (and counted)

    @model_validator(mode="after")
    def _dsn_for_postgres(self) -> Audit:
        if self.sink == "postgres":
            if not self.dsn:
                raise ValueError("sink 'postgres' needs dsn (e.g. postgresql://tollgate@127.0.0.1:5432/tollgate)")
            if not self.dsn.startswith(("postgresql://", "postgres://")):
                raise ValueError("dsn must start with postgresql:// (the value is not shown: it may hold a password)")
        return self


class BudgetStore(Strict):
    store: Literal["memory", "redis"] = "memory"
    # redis://[user:password@]host:port/db, rediss:// for TLS; with redis_cluster, a comma-separated
    # list of seed nodes (redis://10.0.0.1:6379,10.0.0.2:6379).
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster: bool = False
    redis_ca_file: str | None = None  # rediss://: the CA that signed the server's certificate (default: system)
    redis_cert_file: str | None = None  # rediss:// with client certificates (tls-auth-clients yes)
    redis_key_file: str | None = None
    key_prefix: str = "tollgate:"
    # A healthy Redis on the same network answers in well under a millisecond; 25 ms of a
    # responsive event loop without a byte back means trouble, and a request should not wait
    # longer than that to learn it must fail open. (Time the loop itself was stalled does not count.)
    timeout_ms: float = Field(25.0, gt=0)
    fail_closed: bool = False
    # Longer than any request should live: an unsettled reservation holds budget this long at most.
    reservation_ttl_s: float = Field(900.0, gt=0)
    # How long a settled request id is remembered to refuse a duplicate (a retry after a lost
    # reply). Memory in Redis is about 100 bytes x requests per second x this.
    settle_dedup_s: float = Field(120.0, gt=0)
    breaker_failures: int = Field(3, gt=0)
    breaker_cooldown_s: float = Field(1.0, gt=0)
    clamp_min_tokens: int = Field(16, gt=0)

    def redis_target(self, scripts: Sequence[str] = (), timeout_s: float | None = None) -> Target:
        """Where the Redis store is and how to reach it (raises ValueError or OSError when it cannot be)."""
        from budget.resp import parse_url  # the one parser; config stays importable without the client

        return parse_url(
            self.redis_url,
            self.timeout_ms / 1000 if timeout_s is None else timeout_s,
            cluster=self.redis_cluster,
            ca_file=self.redis_ca_file,
            cert_file=self.redis_cert_file,
            key_file=self.redis_key_file,
            scripts=scripts,
        )

    @model_validator(mode="after")
    def _redis(self) -> BudgetStore:
        if self.store != "redis":
            return self
        try:
            self.redis_target()
        except (ValueError, OSError) as e:  # OSError: an unreadable CA, certificate or key file
            raise ValueError(f"redis_url: {e} (e.g. redis://127.0.0.1:6379/0)") from None
        if self.redis_cert_file and not self.redis_url.startswith("rediss://"):
            raise ValueError("redis_cert_file needs a rediss:// URL")
        return self


class SecretStoreSettings(Strict):
    """Where `tollgate secrets` keeps sealed values (AES-256-GCM; the key is never in the store)."""

    kind: Literal["file", "postgres"] = "file"
    path: str = "var/secrets.json"  # kind file: written atomically, mode 0600
    dsn: str | None = None  # kind postgres, e.g. postgresql://tollgate@db/tollgate
    table: str = Field("tollgate_secrets", pattern=r"^(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$")

    @model_validator(mode="after")
    def _dsn_for_postgres(self) -> SecretStoreSettings:
        if self.kind == "postgres" and not (self.dsn or "").startswith(("postgresql://", "postgres://")):
            raise ValueError("kind 'postgres' needs dsn: postgresql://USER@HOST:PORT/DB")
        return self


class Config(Strict):
    listeners: Listeners = Listeners()
    limits: Limits = Limits()
    admin: Admin = Admin()
    providers: list[Provider] = Field(min_length=1)
    orgs: list[Org] = []
    audit: Audit = Audit()
    budget: BudgetStore = BudgetStore()
    egress: EgressSettings = EgressSettings()
    # `{secret:NAME}` in provider api_key and egress inject values: a name listed here takes its
    # value from here (e.g. from ${ENV}); any other name comes from the encrypted secret store.
    secrets: dict[str, str] = {}
    secret_store: SecretStoreSettings = SecretStoreSettings()


def cross_reference_errors(config: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems no single field can see: duplicates and dangling model names, each with its path."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    served: dict[str, str] = {}
    for pi, p in enumerate(config.providers):
        if p.name in {q.name for q in config.providers[:pi]}:
            errors.append((("providers", pi, "name"), f"provider {p.name!r} appears twice"))
        for mi, m in enumerate(p.models):
            if m.name in served:
                errors.append(
                    (
                        ("providers", pi, "models", mi, "name"),
                        f"model {m.name!r} is already served by {served[m.name]!r}",
                    )
                )
            served.setdefault(m.name, p.name)
    agents: set[str] = set()
    hashes: set[str] = set()
    for oi, o in enumerate(config.orgs):
        if o.id in {q.id for q in config.orgs[:oi]}:
            errors.append((("orgs", oi, "id"), f"org {o.id!r} appears twice"))
        scopes: list[tuple[tuple[str | int, ...], Org | Team | Agent]] = [(("orgs", oi), o)]
        for ti, t in enumerate(o.teams):
            if t.id in {q.id for q in o.teams[:ti]}:
                errors.append((("orgs", oi, "teams", ti, "id"), f"team {t.id!r} appears twice in org {o.id!r}"))
            scopes.append((("orgs", oi, "teams", ti), t))
            for ai, a in enumerate(t.agents):
                path = ("orgs", oi, "teams", ti, "agents", ai)
                scopes.append((path, a))
                if a.id in agents:
                    errors.append(((*path, "id"), f"agent id {a.id!r} is used twice (agent ids are global)"))
                agents.add(a.id)
                for hi, h in enumerate(a.tokens):
                    if h in hashes:
                        errors.append(((*path, "tokens", hi), "this token hash is already given to an agent"))
                    hashes.add(h)
        errors.extend(_parent_errors(o, oi))
        for scope_path, scope in scopes:
            for mi, name in enumerate(scope.models or []):
                if name != "*" and name not in served:
                    errors.append(((*scope_path, "models", mi), f"no provider serves the model {name!r}"))
    return errors


def _parent_errors(org: Org, oi: int) -> list[tuple[tuple[str | int, ...], str]]:
    """Subagents: the parent is another agent of the same org, and is not a subagent itself."""
    agents = {a.id: a for t in org.teams for a in t.agents}
    errors: list[tuple[tuple[str | int, ...], str]] = []
    for ti, t in enumerate(org.teams):
        for ai, a in enumerate(t.agents):
            if a.parent is None:
                continue
            path = ("orgs", oi, "teams", ti, "agents", ai, "parent")
            parent = agents.get(a.parent)
            if a.parent == a.id:
                errors.append((path, "an agent cannot be its own parent"))
            elif parent is None:
                errors.append((path, f"no agent {a.parent!r} in org {org.id!r} (a parent must be in the same org)"))
            elif parent.parent is not None:
                errors.append(
                    (path, f"{a.parent!r} is itself a subagent of {parent.parent!r}; subagents are one level only "
                     f"(use parent: {parent.parent})")
                )  # fmt: skip
    return errors
