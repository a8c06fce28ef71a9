"""Egress rules and the matcher: which rule governs a CONNECT, may an intercepted request pass.

Every call returns a `RuleDecision(allowed, reason, rule)`, the shared `config.Decision` plus the
rule, "no rule" included (smokescreen's `ACL.Decide`); the reason is bounded (`DECISION_REASONS`,
plus `bad_host:<HostError reason>` and `bad_path:<PathError reason>`) and flows unchanged into the
403 body, the audit row and a metric.

Host patterns (checked with fix hints, as smokescreen's `ValidateDomainGlob`):
- an exact canonical host (`api.github.com`, `xn--bcher-kva.de`, `10.0.0.5`, `::1`);
- a strict wildcard `*.example.com`: one or more labels in front of the suffix, so it matches
  `a.example.com` and `a.b.example.com`, never `example.com` nor `evil-example.com`. `*` is allowed
  only as the whole leftmost label, and the suffix needs two labels (`*.com` is refused; public
  suffixes such as `*.co.uk` cannot be told apart without a suffix list and are accepted).
- The most specific pattern governs a host: an exact host beats any wildcard, a longer wildcard
  suffix beats a shorter one. Its port set is then final (no fall-through to a broader rule).
  Two rules may not govern the same host pattern and port (one mode, one set of injected
  credentials per tunnel): that is a validation error.

Path patterns are matched on `paths.normalize_path` output and must themselves be normalized.
Segments are split on `/`:
- a literal segment matches itself (case-sensitive; a trailing `/` is an empty last segment);
- `*` as a whole segment matches exactly one non-empty segment: `/repos/*` matches `/repos/a`,
  not `/repos`, `/repos/` nor `/repos/a/b`;
- `*` inside a segment matches any characters but `/`: `/v1/*.json`, `/releases/v*`;
  one `*` per segment keeps matching linear (no backtracking);
- `**` as a whole segment matches zero or more segments: `/repos/**` matches `/repos`,
  `/repos/`, `/repos/a/b/c`; `/**` (the default) matches every path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

from config.decision import Decision
from config.secrets import SECRET_REF as _SECRET_REF
from egress.hosts import HostError, canonical_host, is_ip
from egress.paths import PathError, normalize_path

__all__ = [
    "ANY_PATH",
    "DECISION_REASONS",
    "DEFAULT_PORTS",
    "InjectError",
    "Mode",
    "PolicyError",
    "Rule",
    "RuleDecision",
    "RuleSet",
    "check_host_pattern",
    "check_path_pattern",
    "must_strip",
    "render_inject",
]

Mode = Literal["tunnel", "intercept"]
DEFAULT_PORTS: frozenset[int] = frozenset({443, 80})
ANY_PATH: tuple[str, ...] = ("/**",)

DECISION_REASONS = (
    "allowed",
    "empty_policy",
    "no_rule_for_host",
    "port_not_allowed",
    "bad_method",
    "method_not_allowed",
    "path_not_allowed",
)

# RFC 9110 §5.6.2 token: methods and header names.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Framing, routing and hop-by-hop headers: injecting one would change how the request is parsed.
_NOT_INJECTABLE = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-connection",
        "proxy-authorization",
    }
)
# At most this many path patterns per rule keeps a decision well under a millisecond.
MAX_PATH_PATTERNS = 256


class Credential(Protocol):
    """What the policy needs of a rule's credential (egress.credentials holds the kinds)."""

    @property
    def kind(self) -> str: ...
    @property
    def strips(self) -> frozenset[str]: ...  # lower-case header names the credential sets; client copies are removed
    @property
    def upgrades(self) -> frozenset[str]: ...  # protocol upgrades relayed besides WebSocket (lower case)
    @property
    def secrets(self) -> frozenset[str]: ...
    def needs_body(self, headers: list[tuple[bytes, bytes]]) -> bool: ...  # signing needs the whole body


class PolicyError(ValueError):
    """Invalid rules; `problems` is ((field path, message with the fix), …)."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{where}: {msg}" if where else msg for where, msg in self.problems))


class InjectError(ValueError):
    """A credential that cannot be injected; `reason` never contains the secret value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RuleDecision(Decision):
    """The policy's `Decision`, with the rule that matched the host (None: none did)."""

    rule: Rule | None


# --- patterns -------------------------------------------------------------------------------


def _fail(msg: str) -> PolicyError:
    return PolicyError([("", msg)])


def check_host_pattern(pattern: str) -> str:
    """Return `pattern` if it is a valid host pattern, else PolicyError naming the fix."""
    if not isinstance(pattern, str) or not pattern:
        raise _fail("empty host pattern")
    if pattern == "*" or pattern == "*.":
        raise _fail('"*" would allow every host; list hosts or use "*.example.com"')
    if pattern.startswith("*."):
        suffix = pattern[2:]
        if "*" in suffix:
            raise _fail(f'"{pattern}": "*" is allowed only as the whole leftmost label')
        try:
            canon = canonical_host(suffix)
        except HostError as e:
            raise _fail(f'"{pattern}": bad host ({e.reason})') from None
        if is_ip(canon):
            raise _fail(f'"{pattern}": wildcards cannot cover IP addresses; list the address')
        if canon != suffix:
            raise _fail(f'"{pattern}" is not canonical; use "*.{canon}"')
        if "." not in canon:
            raise _fail(f'"{pattern}" covers a whole top-level domain; use e.g. "*.example.{canon}"')
        return pattern
    if "*" in pattern:
        if pattern.startswith("*"):  # "*example.com": the dot is missing
            hint = "*." + pattern.lstrip("*.")
        else:  # "api*.example.com": a wildcard covers whole labels only
            hint = "*." + (pattern.split(".", 1)[1] if "." in pattern else "example.com")
        raise _fail(f'"{pattern}": "*" is allowed only as the whole leftmost label; use "{hint}"')
    try:
        canon = canonical_host(pattern)
    except HostError as e:
        raise _fail(f'"{pattern}": bad host ({e.reason})') from None
    if canon != pattern:
        raise _fail(f'"{pattern}" is not canonical; use "{canon}"')
    return pattern


def check_path_pattern(pattern: str) -> str:
    """Return `pattern` if it is a valid, normalized path pattern, else PolicyError naming the fix."""
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise _fail(f"{pattern!r}: a path pattern starts with /")
    if "?" in pattern:
        raise _fail(f'"{pattern}": patterns match the path only, not the query; use "{pattern.split("?")[0]}"')
    try:
        norm = normalize_path(pattern)
    except PathError as e:
        raise _fail(f'"{pattern}": no request path can look like this ({e.reason})') from None
    if norm != pattern:
        raise _fail(f'"{pattern}" is not normalized (paths are matched after normalization); use "{norm}"')
    for seg in pattern[1:].split("/"):
        if seg == "**":
            continue
        if "**" in seg:
            raise _fail(f'"{pattern}": "**" must be a whole segment')
        if seg.count("*") > 1:
            raise _fail(f'"{pattern}": at most one "*" per segment')
    return pattern


_DSTAR = object()
_STAR = object()
_Seg = str | object | tuple[str, str]


def _compile_path(pattern: str) -> tuple[_Seg, ...]:
    parts: list[_Seg] = []
    for seg in pattern[1:].split("/"):
        if seg == "**":
            parts.append(_DSTAR)
        elif seg == "*":
            parts.append(_STAR)
        elif "*" in seg:
            pre, _, post = seg.partition("*")
            parts.append((pre, post))
        else:
            parts.append(seg)
    return tuple(parts)


def _seg_ok(part: _Seg, seg: str) -> bool:
    if part is _STAR:
        return seg != ""
    if isinstance(part, tuple):
        pre, post = part
        return len(seg) >= len(pre) + len(post) and seg.startswith(pre) and seg.endswith(post)
    return part == seg


def _match_path(parts: tuple[_Seg, ...], segs: list[str]) -> bool:
    if _DSTAR not in parts:
        return len(parts) == len(segs) and all(_seg_ok(p, s) for p, s in zip(parts, segs, strict=True))
    # Positions in `segs` reachable after each pattern part: O(parts * segments), no backtracking.
    reach = {0}
    for part in parts:
        if part is _DSTAR:
            reach = set(range(min(reach), len(segs) + 1))
        else:
            reach = {i + 1 for i in reach if i < len(segs) and _seg_ok(part, segs[i])}
        if not reach:
            return False
    return len(segs) in reach


# --- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One allow rule. Construction validates every field and raises PolicyError with fixes."""

    hosts: tuple[str, ...]
    ports: frozenset[int] = DEFAULT_PORTS
    methods: frozenset[str] | None = None  # None: any method
    paths: tuple[str, ...] = ANY_PATH
    mode: Mode = "tunnel"
    allow_private: bool = False
    inject: Mapping[str, str] = field(default_factory=dict, hash=False)  # header → "Bearer {secret:x}"
    name: str = ""
    # A cloud identity (egress.credentials): its `strips` are removed from client requests too.
    credential: Credential | None = field(default=None, compare=False, hash=False)
    _compiled: tuple[tuple[_Seg, ...], ...] = field(init=False, repr=False, compare=False, hash=False)
    # Header names removed from client requests, normalized as `must_strip` reads them.
    strip_names: frozenset[bytes] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []

        def check(where: str, fn: Callable[[str], object], value: str) -> None:
            try:
                fn(value)
            except PolicyError as e:
                problems.extend((where, msg) for _, msg in e.problems)

        def norm(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        if isinstance(self.hosts, str):
            problems.append(("hosts", f'a list of hosts, not a string; use ["{self.hosts}"]'))
            norm("hosts", (self.hosts,))
        norm("hosts", tuple(self.hosts))
        if not self.hosts:
            problems.append(("hosts", "at least one host pattern"))
        for i, h in enumerate(self.hosts):
            check(f"hosts[{i}]", check_host_pattern, h)
        if len(set(self.hosts)) != len(self.hosts):
            problems.append(("hosts", "a host pattern is listed twice"))

        norm("ports", frozenset(self.ports))
        if not self.ports:
            problems.append(("ports", f"at least one port; the default is {sorted(DEFAULT_PORTS)}"))
        for p in sorted(self.ports, key=repr):
            if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
                problems.append(("ports", f"{p!r} is not a port (1-65535)"))

        if self.methods is not None:
            if isinstance(self.methods, str):
                problems.append(("methods", f'a list of methods, not a string; use ["{self.methods}"]'))
                norm("methods", (self.methods,))
            norm("methods", frozenset(self.methods))
            if not self.methods:
                problems.append(("methods", "empty would refuse every request; omit it (null) for any method"))
            for m in sorted(self.methods, key=repr):
                if not isinstance(m, str) or not _TOKEN.fullmatch(m):
                    problems.append(("methods", f"{m!r} is not an HTTP method"))
                elif m != m.upper():
                    problems.append(("methods", f'methods are matched upper-case; use "{m.upper()}"'))

        if isinstance(self.paths, str):
            problems.append(("paths", f'a list of path patterns, not a string; use ["{self.paths}"]'))
            norm("paths", (self.paths,))
        norm("paths", tuple(self.paths))
        if not self.paths:
            problems.append(("paths", 'empty would refuse every request; use ["/**"] for any path'))
        if len(self.paths) > MAX_PATH_PATTERNS:
            problems.append(("paths", f"at most {MAX_PATH_PATTERNS} patterns; use wildcards"))
        for i, pattern in enumerate(self.paths):
            check(f"paths[{i}]", check_path_pattern, pattern)

        if self.mode not in ("tunnel", "intercept"):
            problems.append(("mode", f'{self.mode!r}: "tunnel" or "intercept"'))
        if not isinstance(self.allow_private, bool):
            problems.append(("allow_private", "true or false"))

        inject = dict(self.inject)
        norm("inject", MappingProxyType(inject))
        for header, template in inject.items():
            where = f"inject.{header}"
            if not isinstance(header, str) or not _TOKEN.fullmatch(header):
                problems.append((where, "not a header name"))
            elif header.lower() in _NOT_INJECTABLE or header.lower().replace("_", "-") in _NOT_INJECTABLE:
                problems.append((where, "framing and hop-by-hop headers cannot be injected"))
            if not isinstance(template, str) or not template:
                problems.append((where, 'a template such as "Bearer {secret:github}"'))
            elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in template):
                problems.append((where, "control characters (CR, LF, NUL…) are not allowed in header values"))
            elif "{" in _SECRET_REF.sub("", template) or "}" in _SECRET_REF.sub("", template):
                problems.append((where, 'placeholders are "{secret:NAME}" (NAME: letters, digits, _ . -)'))

        if self.mode == "tunnel" and (
            self.methods is not None or self.paths != ANY_PATH or inject or self.credential is not None
        ):
            hint = 'a tunnel cannot see methods, paths or headers; use mode "intercept" or drop them'
            problems.append(("mode", hint))
        if self.credential is not None:
            clash = sorted(h for h in inject if h.lower().replace("_", "-") in self.credential.strips)
            if clash:
                problems.append((f"inject.{clash[0]}", f"the {self.credential.kind} credential sets it itself"))
        if not isinstance(self.name, str):
            problems.append(("name", "a string"))

        if problems:
            raise PolicyError(problems)
        norm("_compiled", tuple(_compile_path(p) for p in self.paths))
        names = {_strip_key(h) for h in inject} | (set(self.credential.strips) if self.credential else set())
        norm("strip_names", frozenset(n.encode("latin-1") for n in names) | _ALWAYS_STRIPPED)

    @property
    def label(self) -> str:
        """For audit rows and logs."""
        return self.name or self.hosts[0]

    @property
    def secrets(self) -> frozenset[str]:
        """Secret names the inject templates and the credential refer to (for config validation)."""
        named = frozenset(n for t in self.inject.values() for n in _SECRET_REF.findall(t))
        return named | self.credential.secrets if self.credential is not None else named

    def matches_path(self, normalized: str) -> bool:
        segs = normalized[1:].split("/")
        return any(_match_path(parts, segs) for parts in self._compiled)


def render_inject(rule: Rule, secret: Callable[[str], str]) -> list[tuple[str, str]]:
    """The (header, value) pairs to set on an intercepted request, secrets filled in.

    A secret value with CR, LF, NUL or another control character is refused: it would split
    the request (header injection). Error reasons name the secret, never its value.
    """
    out: list[tuple[str, str]] = []
    for header, template in rule.inject.items():

        def fill(m: re.Match[str]) -> str:
            name = m.group(1)
            try:
                value = secret(name)
            except KeyError:
                raise InjectError(f"missing_secret:{name}") from None
            if not isinstance(value, str) or any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
                raise InjectError(f"bad_secret_value:{name}")
            return value

        out.append((header, _SECRET_REF.sub(fill, template)))
    return out


_ALWAYS_STRIPPED = frozenset({b"proxy-authorization"})


def _strip_key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def must_strip(header: str | bytes, rule: Rule | None) -> bool:
    """Must a client-sent header be removed before forwarding? Proxy-Authorization, any
    Impersonate-*, and every header the rule injects or its credential sets, in every spelling:
    case-insensitive, and `_` read as `-` because WSGI/CGI servers map both to the same `HTTP_…`
    variable."""
    name = _strip_key(header.decode("latin-1") if isinstance(header, bytes) else header).encode("latin-1")
    return strips_parsed(name, rule.strip_names if rule is not None else _ALWAYS_STRIPPED)


def strips_parsed(name: bytes, strip_names: frozenset[bytes]) -> bool:
    """`must_strip` for a name from h11's parser (already lower case, no whitespace): the hot path."""
    if b"_" in name:
        name = name.replace(b"_", b"-")
    return name in strip_names or name.startswith(b"impersonate-")


# --- the policy -----------------------------------------------------------------------------


class RuleSet:
    """A validated set of rules. `RuleSet(())` — or any policy that failed to build — denies all."""

    __slots__ = ("_exact", "_rules", "_wild")

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = tuple(rules)
        self._exact: dict[str, list[Rule]] = {}
        self._wild: dict[str, list[Rule]] = {}
        problems: list[tuple[str, str]] = []
        owner: dict[tuple[str, int], int] = {}
        for i, rule in enumerate(self._rules):
            if not isinstance(rule, Rule):
                problems.append((f"rules[{i}]", "not a Rule"))
                continue
            for j, pattern in enumerate(rule.hosts):
                clash = sorted(p for p in rule.ports if (pattern, p) in owner)
                if clash:
                    first = owner[(pattern, clash[0])]
                    problems.append(
                        (
                            f"rules[{i}].hosts[{j}]",
                            f'"{pattern}" port {clash[0]} is already governed by rules[{first}]; '
                            "one rule per host and port: merge their methods and paths",
                        )
                    )
                owner.update(((pattern, p), i) for p in rule.ports)
                if pattern.startswith("*."):
                    self._wild.setdefault(pattern[2:], []).append(rule)
                else:
                    self._exact.setdefault(pattern, []).append(rule)
        if problems:
            raise PolicyError(problems)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def __len__(self) -> int:
        return len(self._rules)

    def decide_connect(self, host: str, port: int) -> RuleDecision:
        """Which rule governs `host:port`? `host` must already be canonical (`canonical_host`):
        one spelling is used for matching, minting, SNI and dialing, so anything else is refused."""
        if not self._rules:
            return RuleDecision(False, "empty_policy", None)
        try:
            canon = canonical_host(host)
        except HostError as e:
            return RuleDecision(False, f"bad_host:{e.reason}", None)
        if canon != host:
            return RuleDecision(False, "bad_host:not_canonical", None)
        candidates = self._exact.get(host)
        if candidates is None and self._wild and not is_ip(host):
            labels = host.split(".")
            for i in range(1, len(labels) - 1):  # longest suffix first; at least two labels
                candidates = self._wild.get(".".join(labels[i:]))
                if candidates is not None:
                    break
        if not candidates:
            return RuleDecision(False, "no_rule_for_host", None)
        for rule in candidates:
            if port in rule.ports:
                return RuleDecision(True, "allowed", rule)
        return RuleDecision(False, "port_not_allowed", candidates[0])

    @staticmethod
    def decide_request(rule: Rule, method: str | bytes, path: str | bytes) -> RuleDecision:
        """May this intercepted (or plain-HTTP) request pass `rule`? `path` is the origin-form
        target as received; it is normalized here (see `egress.paths`)."""
        if isinstance(method, bytes):
            method = method.decode("latin-1")
        if isinstance(path, bytes):
            path = path.decode("latin-1")
        m = method.upper() if isinstance(method, str) else ""
        if not _TOKEN.fullmatch(m):
            return RuleDecision(False, "bad_method", rule)
        if rule.methods is not None and m not in rule.methods:
            return RuleDecision(False, "method_not_allowed", rule)
        try:
            norm = normalize_path(path)
        except PathError as e:
            return RuleDecision(False, f"bad_path:{e.reason}", rule)
        if rule.matches_path(norm):
            return RuleDecision(True, "allowed", rule)
        return RuleDecision(False, "path_not_allowed", rule)
