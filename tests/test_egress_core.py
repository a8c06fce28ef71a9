"""The egress door's pure cores — host canonicalizer, policy matcher, path normalizer, SSRF guard,
ClientHello reader, CA and leaf cache — tested with strings and bytes only (DESIGN §6, §11).
The TLS handshakes run through ssl.MemoryBIO: no sockets."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import pickle
import ssl
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from egress.ca import CAExpiredError, CertificateAuthority, LeafCache, server_context
from egress.clienthello import ClientHello, parse_client_hello, vet_client_hello
from egress.hosts import HostError, canonical_host, format_authority, is_ip, parse_authority, sni_matches
from egress.paths import PathError, merges_segments, normalize_path, normalize_target, query_of, split_absolute_form
from egress.policy import (
    InjectError,
    PolicyError,
    Rule,
    RuleSet,
    check_host_pattern,
    check_path_pattern,
    must_strip,
    render_inject,
)
from egress.ssrf import pick_address, vet_address
from egress.vet import ForwardPlan, status_for, vet_request


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Overrides the suite's autouse fixture: these tests need no loopback upstream."""
    return None


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


# --- hosts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),  # exactly one trailing dot stripped
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("XN--BCHER-KVA.de", "xn--bcher-kva.de"),
        ("ex\u00adample.com", "example.com"),  # soft hyphen: ignored by UTS-46
        ("\uff41\uff50\uff49.example.com", "api.example.com"),  # full-width letters
        ("a\u3002b.example.com", "a.b.example.com"),  # ideographic full stop
        ("a_b.example.com", "a_b.example.com"),
        ("localhost", "localhost"),
        ("1.2.3.4", "1.2.3.4"),
        ("0.0.0.0", "0.0.0.0"),
        ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "127.0.0.1"),  # full-width digits map to the IP; SSRF vets it
        ("[::1]", "::1"),
        ("[2001:DB8:0::0:1]", "2001:db8::1"),
        ("::1", "::1"),  # canonical output is accepted again (idempotence)
        ("2001:db8::1", "2001:db8::1"),
    ],
)
def test_canonical_host(raw: str, canonical: str) -> None:
    assert canonical_host(raw) == canonical
    assert canonical_host(canonical) == canonical


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        (".", "empty"),
        ("example.com..", "empty_label"),
        (".example.com", "empty_label"),
        ("a..example.com", "empty_label"),
        # odd IP spellings: each reads as 127.0.0.1 to some parser
        ("127.1", "odd_ip_spelling"),
        ("0x7f.0.0.1", "odd_ip_spelling"),
        ("0X7F.0.0.1", "odd_ip_spelling"),
        ("0177.0.0.1", "odd_ip_spelling"),
        ("2130706433", "odd_ip_spelling"),
        ("0x7f000001", "odd_ip_spelling"),
        ("127.0.0.01", "odd_ip_spelling"),
        ("127.0.0.1.", "odd_ip_spelling"),
        ("256.1.1.1", "odd_ip_spelling"),
        ("1.2.3.4.5", "odd_ip_spelling"),
        ("example.123", "odd_ip_spelling"),
        ("example.0x", "odd_ip_spelling"),
        ("::ffff:127.0.0.1", "odd_ip_spelling"),
        ("[::ffff:127.0.0.1]", "odd_ip_spelling"),
        ("[::ffff:7f00:1]", "odd_ip_spelling"),
        ("[::127.0.0.1]", "odd_ip_spelling"),
        ("[fe80::1%25eth0]", "bad_ipv6"),
        ("[::1", "bad_ipv6"),
        ("[example.com]", "bad_ipv6"),
        ("[1:2:3:4:5:6:7:8:9]", "bad_ipv6"),
        # smuggling characters
        ("exa%2emple.com", "bad_character"),
        ("example.com%00", "bad_character"),
        ("exa\x00mple.com", "bad_character"),
        ("exa mple.com", "bad_character"),
        ("example.com\t", "bad_character"),
        ("example.com\r\nX-Evil: 1", "bad_character"),
        ("example.com\x7f", "bad_character"),
        ("example.com\x85", "bad_character"),
        ("example.com\u3000", "bad_character"),
        ("user@example.com", "bad_character"),
        ("example.com/path", "bad_character"),
        ("example.com\\path", "bad_character"),
        ("example.com:443", "bad_character"),
        ("example.com?x", "bad_character"),
        ("*.example.com", "bad_character"),
        ("example.com\uff0fpath", "bad_character"),  # full-width solidus maps to "/"
        # IDNA and length
        ("\u2603.net", "idna"),
        ("xn--zz.com", "idna"),
        ("xn--ls8h-.com", "bad_label"),
        ("a\u200db.com", "idna"),
        ("-a.example.com", "bad_label"),
        ("a-.example.com", "bad_label"),
        ("a" * 64 + ".com", "too_long"),
        (".".join(["a" * 63] * 4) + ".com", "too_long"),
        ("a" * 2000, "too_long"),
    ],
)
def test_canonical_host_refuses(raw: str, reason: str) -> None:
    with pytest.raises(HostError) as e:
        canonical_host(raw)
    assert e.value.reason == reason


@pytest.mark.parametrize(
    ("authority", "default", "expected"),
    [
        ("example.com:443", None, ("example.com", 443)),
        ("Example.COM.:8443", None, ("example.com", 8443)),
        ("example.com", 80, ("example.com", 80)),
        ("[::1]:8443", None, ("::1", 8443)),
        ("[2001:db8::1]", 443, ("2001:db8::1", 443)),
        ("bücher.de:443", None, ("xn--bcher-kva.de", 443)),
        ("1.2.3.4:65535", None, ("1.2.3.4", 65535)),
    ],
)
def test_parse_authority(authority: str, default: int | None, expected: tuple[str, int]) -> None:
    assert parse_authority(authority, default) == expected


@pytest.mark.parametrize(
    ("authority", "reason"),
    [
        ("", "empty"),
        ("example.com", "missing_port"),
        ("example.com:", "bad_port"),
        ("example.com:0", "bad_port"),
        ("example.com:65536", "bad_port"),
        ("example.com:+443", "bad_port"),
        ("example.com:-1", "bad_port"),
        ("example.com:44a", "bad_port"),
        ("example.com:0443", "bad_port"),
        ("example.com:\u0664\u0664\u0663", "bad_port"),  # Arabic-Indic digits
        ("example.com:443:443", "unbracketed_ipv6"),
        ("::1:443", "unbracketed_ipv6"),
        ("[::1]x", "bad_ipv6"),
        ("[::1]:", "bad_port"),
        ("user:pw@example.com:443", "userinfo"),
        ("example.com@evil.com:443", "userinfo"),
        ("example.com:443\r\nX-Evil: 1", "bad_character"),
        ("example.com\n:443", "bad_character"),
        ("example.com :443", "bad_character"),
        ("127.1:443", "odd_ip_spelling"),
        ("[::ffff:127.0.0.1]:443", "odd_ip_spelling"),
        ("exa%00mple.com:443", "bad_character"),
    ],
)
def test_parse_authority_refuses(authority: str, reason: str) -> None:
    with pytest.raises(HostError) as e:
        parse_authority(authority, None)
    assert e.value.reason == reason


def test_is_ip_and_format_authority() -> None:
    assert is_ip("1.2.3.4") and is_ip("::1") and is_ip("[::1]")
    assert not is_ip("example.com") and not is_ip("127.1")
    assert format_authority("::1", 443) == "[::1]:443"
    assert format_authority("example.com", 80) == "example.com:80"
    assert format_authority("2001:db8::1") == "[2001:db8::1]"


@pytest.mark.parametrize(
    ("host", "sni", "ok", "reason"),
    [
        ("api.example.com", "api.example.com", True, "sni_ok"),
        ("api.example.com", "API.Example.com", True, "sni_ok"),
        ("api.example.com", "api.example.com.", True, "sni_ok"),
        ("xn--bcher-kva.de", "bücher.de", True, "sni_ok"),
        ("api.example.com", "evil.example.com", False, "sni_mismatch"),
        ("api.example.com", None, False, "sni_missing"),
        ("api.example.com", "127.1", False, "sni_bad:odd_ip_spelling"),
        ("1.2.3.4", None, True, "sni_absent_ip"),
    ],
)
def test_sni_matches(host: str, sni: str | None, ok: bool, reason: str) -> None:
    assert sni_matches(host, sni) == (ok, reason)


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b/"),
        ("/a/b?x=1&y=/..", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/../../etc/passwd", "/etc/passwd"),  # never above the root
        ("/a/../../b", "/b"),
        ("//a//b//", "/a/b/"),
        ("//evil.example/x", "/evil.example/x"),
        ("/admin;x=1/", "/admin/"),
        ("/admin;jsessionid=1", "/admin"),
        ("/public/..;/admin", "/admin"),  # Tomcat's "..;" trick
        ("/public/.;x/admin", "/public/admin"),
        ("/%2e%2e/%2E%2e/etc", "/etc"),
        ("/public/%2e%2e/admin", "/admin"),
        ("/%61dmin", "/admin"),
        ("/%7euser", "/~user"),
        ("/a%3bb", "/a%3Bb"),  # an escaped ";" stays part of the segment
        ("/a%3Fb", "/a%3Fb"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/100%25.txt", "/100%25.txt"),
    ],
)
def test_normalize_path(target: str, path: str) -> None:
    assert normalize_path(target) == path


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("", "empty"),
        ("*", "not_origin_form"),
        ("http://example.com/", "not_origin_form"),
        ("example.com/", "not_origin_form"),
        ("/a%2Fb", "encoded_slash"),
        ("/a%2fb", "encoded_slash"),
        ("/a%5Cb", "encoded_slash"),
        ("/a%5c..%5cadmin", "encoded_slash"),
        ("/a\\b", "backslash"),
        ("/a%00b", "encoded_control"),
        ("/a%0d%0aX:1", "encoded_control"),
        ("/a%7f", "encoded_control"),
        ("/%252F", "double_encoding"),
        ("/%252e%252e/", "double_encoding"),
        ("/a%", "bad_percent"),
        ("/a%2", "bad_percent"),
        ("/a%zz", "bad_percent"),
        ("/a\x00b", "bad_character"),
        ("/a\r\nX: 1", "bad_character"),
        ("/a b", "bad_character"),
        ("/caf\u00e9", "bad_character"),
        ("/a#frag", "fragment"),
        ("/" + "a" * 9000, "too_long"),
    ],
)
def test_normalize_path_refuses(target: str, reason: str) -> None:
    with pytest.raises(PathError) as e:
        normalize_path(target)
    assert e.value.reason == reason


@pytest.mark.parametrize(
    ("target", "merges"),
    [
        ("/", False), ("/b/k", False), ("/b/dir/", False), ("/b/a%20b%2Bc~d?x=/../", False), ("/b/%7Ea", False),
        ("//k", True), ("/b//k", True), ("/b/./k", True), ("/b/k/..", True), ("/b/%2E%2e/k", True), ("/b/k;v=1", True),
    ],
)  # fmt: skip
def test_merges_segments_only_when_normalizing_would_name_another_path(target: str, merges: bool) -> None:
    assert merges_segments(target) is merges


def test_targets_and_queries() -> None:
    assert query_of("/a?x=1") == "x=1"
    assert query_of("/a?") == ""
    assert query_of("/a") is None
    assert normalize_target("/a/../b;p=1?x=%2F") == "/b?x=%2F"  # the query is not normalized
    assert split_absolute_form("HTTP://Example.com:8080/a?b") == ("http", "Example.com:8080", "/a?b")
    assert split_absolute_form("http://example.com") == ("http", "example.com", "/")
    assert split_absolute_form("http://example.com?q") == ("http", "example.com", "/?q")
    for bad, reason in [
        ("ftp://example.com/", "bad_scheme"),
        ("/relative", "bad_scheme"),
        ("http://user:pw@example.com/", "userinfo"),
        ("http:///x", "bad_authority"),
        ("http://example.com/a b", "bad_character"),
    ]:
        with pytest.raises(PathError) as e:
            split_absolute_form(bad)
        assert e.value.reason == reason


# --- policy: patterns -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        ("Example.com", 'use "example.com"'),
        ("bücher.de", 'use "xn--bcher-kva.de"'),
        ("*.Bücher.de", 'use "*.xn--bcher-kva.de"'),
        ("example.com.", 'use "example.com"'),
        ("[::1]", 'use "::1"'),
        ("*", "every host"),
        ("*.com", "top-level domain"),
        ("*.example.com.", 'use "*.example.com"'),
        ("api.*.example.com", "whole leftmost label"),
        ("*.*.example.com", "whole leftmost label"),
        ("api*.example.com", 'use "*.example.com"'),
        ("*example.com", 'use "*.example.com"'),
        ("*.1.2.3.4", "cannot cover IP"),
        ("127.1", "odd_ip_spelling"),
        ("", "empty"),
    ],
)
def test_host_pattern_validation_tells_the_fix(pattern: str, hint: str) -> None:
    with pytest.raises(PolicyError) as e:
        check_host_pattern(pattern)
    assert hint in str(e.value)


@pytest.mark.parametrize("pattern", ["example.com", "*.example.com", "*.a.b.example.com", "xn--bcher-kva.de", "::1"])
def test_host_pattern_valid(pattern: str) -> None:
    assert check_host_pattern(pattern) == pattern


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        ("repos/*", "starts with /"),
        ("/a/../b", 'use "/b"'),
        ("/a//b", 'use "/a/b"'),
        ("/admin;x", 'use "/admin"'),
        ("/%7euser", 'use "/~user"'),
        ("/a%3bb", 'use "/a%3Bb"'),
        ("/a?x=1", 'use "/a"'),
        ("/a/**b", "whole segment"),
        ("/a/*b*", 'one "*" per segment'),
        ("/a%2Fb", "encoded_slash"),
    ],
)
def test_path_pattern_validation_tells_the_fix(pattern: str, hint: str) -> None:
    with pytest.raises(PolicyError) as e:
        check_path_pattern(pattern)
    assert hint in str(e.value)


@pytest.mark.parametrize(
    ("kwargs", "where", "hint"),
    [
        ({"hosts": "example.com"}, "hosts", 'use ["example.com"]'),
        ({"hosts": ()}, "hosts", "at least one"),
        ({"hosts": ("a.example.com", "a.example.com")}, "hosts", "twice"),
        ({"hosts": ("Example.com",)}, "hosts[0]", 'use "example.com"'),
        ({"hosts": ("a.example.com",), "ports": frozenset()}, "ports", "at least one"),
        ({"hosts": ("a.example.com",), "ports": frozenset({0})}, "ports", "not a port"),
        ({"hosts": ("a.example.com",), "ports": frozenset({True})}, "ports", "not a port"),
        ({"hosts": ("a.example.com",), "mode": "intercept", "methods": frozenset({"get"})}, "methods", 'use "GET"'),
        ({"hosts": ("a.example.com",), "mode": "intercept", "methods": frozenset()}, "methods", "any method"),
        ({"hosts": ("a.example.com",), "mode": "intercept", "paths": ()}, "paths", '"/**"'),
        ({"hosts": ("a.example.com",), "mode": "intercept", "paths": ("/a/../b",)}, "paths[0]", 'use "/b"'),
        ({"hosts": ("a.example.com",), "mode": "bogus"}, "mode", '"intercept"'),
        ({"hosts": ("a.example.com",), "paths": ("/api/**",)}, "mode", 'use mode "intercept"'),
        ({"hosts": ("a.example.com",), "inject": {"Authorization": "x"}}, "mode", 'use mode "intercept"'),
        ({"hosts": ("a.example.com",), "mode": "intercept", "inject": {"Host": "x"}}, "inject.Host", "hop-by-hop"),
        (
            {"hosts": ("a.example.com",), "mode": "intercept", "inject": {"X-A": "a\r\nX-B: b"}},
            "inject.X-A",
            "control characters",
        ),
        (
            {"hosts": ("a.example.com",), "mode": "intercept", "inject": {"X-A": "Bearer {secrets:x}"}},
            "inject.X-A",
            "{secret:NAME}",
        ),
        ({"hosts": ("a.example.com",), "mode": "intercept", "inject": {"Bad Name": "x"}}, "inject.Bad Name", "header"),
    ],
)
def test_rule_validation(kwargs: dict[str, object], where: str, hint: str) -> None:
    with pytest.raises(PolicyError) as e:
        Rule(**kwargs)  # type: ignore[arg-type]
    assert any(w == where and hint in msg for w, msg in e.value.problems), e.value.problems


def test_rule_defaults_and_secrets() -> None:
    r = Rule(
        hosts=("api.github.com",),
        mode="intercept",
        inject={"Authorization": "Bearer {secret:github}", "X-Two": "{secret:a}-{secret:b}"},
    )
    assert r.ports == frozenset({443, 80}) and r.methods is None and r.paths == ("/**",)
    assert r.secrets == frozenset({"github", "a", "b"})
    assert r.label == "api.github.com"
    with pytest.raises(TypeError):
        r.inject["X"] = "y"  # type: ignore[index]
    assert hash(r) == hash(Rule(hosts=("api.github.com",), mode="intercept", inject=dict(r.inject)))


# --- policy: decisions ----------------------------------------------------------------------


def test_empty_policy_denies_everything() -> None:
    policy = RuleSet(())
    for host, port in [("example.com", 443), ("1.2.3.4", 80), ("::1", 443)]:
        d = policy.decide_connect(host, port)
        assert (d.allowed, d.reason, d.rule) == (False, "empty_policy", None)


WILD = Rule(hosts=("*.example.com",), ports=frozenset({443}), name="wild")


@pytest.mark.parametrize(
    ("host", "port", "allowed", "reason"),
    [
        ("a.example.com", 443, True, "allowed"),
        ("a.b.example.com", 443, True, "allowed"),  # deeper subdomains are covered
        ("example.com", 443, False, "no_rule_for_host"),  # never the apex
        ("evil-example.com", 443, False, "no_rule_for_host"),
        ("aexample.com", 443, False, "no_rule_for_host"),
        ("a.example.com.evil.com", 443, False, "no_rule_for_host"),
        ("example.com.evil.com", 443, False, "no_rule_for_host"),
        ("a.example.com", 8443, False, "port_not_allowed"),
        ("A.example.com", 443, False, "bad_host:not_canonical"),  # callers canonicalize first
        ("a.example.com.", 443, False, "bad_host:not_canonical"),
        ("127.1", 443, False, "bad_host:odd_ip_spelling"),
        ("a.example.com\r\n", 443, False, "bad_host:bad_character"),
        ("a%2eexample.com", 443, False, "bad_host:bad_character"),
        ("", 443, False, "bad_host:empty"),
    ],
)
def test_wildcard_edges(host: str, port: int, allowed: bool, reason: str) -> None:
    d = RuleSet([WILD]).decide_connect(host, port)
    assert (d.allowed, d.reason) == (allowed, reason)
    assert d.rule is (WILD if allowed or reason == "port_not_allowed" else None)


def test_exact_beats_wildcard_and_longer_wildcard_beats_shorter() -> None:
    exact = Rule(hosts=("api.example.com",), ports=frozenset({443}), mode="intercept", name="exact")
    deep = Rule(hosts=("*.eu.example.com",), ports=frozenset({443}), name="deep")
    policy = RuleSet([WILD, deep, exact])
    assert policy.decide_connect("api.example.com", 443).rule is exact
    # the most specific rule governs: its ports are final, no fall-through to the wildcard
    d = policy.decide_connect("api.example.com", 8443)
    assert (d.allowed, d.reason, d.rule) == (False, "port_not_allowed", exact)
    assert policy.decide_connect("www.example.com", 443).rule is WILD
    assert policy.decide_connect("x.eu.example.com", 443).rule is deep
    assert policy.decide_connect("eu.example.com", 443).rule is WILD


def test_same_host_split_by_port_and_overlap_refused() -> None:
    a = Rule(hosts=("git.example.com",), ports=frozenset({443}), mode="intercept")
    b = Rule(hosts=("git.example.com",), ports=frozenset({22}))
    policy = RuleSet([a, b])
    assert policy.decide_connect("git.example.com", 443).rule is a
    assert policy.decide_connect("git.example.com", 22).rule is b
    c = Rule(hosts=("git.example.com", "x.example.com"), ports=frozenset({443, 8443}))
    with pytest.raises(PolicyError) as e:
        RuleSet([a, c])
    assert e.value.problems[0][0] == "rules[1].hosts[0]"
    assert "one rule per host and port" in e.value.problems[0][1]


def test_ip_rules_are_exact_only() -> None:
    ip_rule = Rule(hosts=("10.0.0.5", "2001:db8::5"), allow_private=True)
    policy = RuleSet([ip_rule, WILD])
    assert policy.decide_connect("10.0.0.5", 443).rule is ip_rule
    assert policy.decide_connect("2001:db8::5", 80).rule is ip_rule
    assert policy.decide_connect("10.0.0.6", 443).reason == "no_rule_for_host"
    assert policy.decide_connect("[2001:db8::5]", 443).reason == "bad_host:not_canonical"


API = Rule(
    hosts=("api.github.com",),
    mode="intercept",
    methods=frozenset({"GET", "POST"}),
    paths=("/user", "/repos/*/issues", "/raw/**", "/v1/*.json", "/"),
)


@pytest.mark.parametrize(
    ("method", "target", "allowed", "reason"),
    [
        ("GET", "/user", True, "allowed"),
        ("get", "/user", True, "allowed"),  # methods are upper-cased
        (b"POST", b"/user", True, "allowed"),
        ("DELETE", "/user", False, "method_not_allowed"),
        ("G T", "/user", False, "bad_method"),
        ("", "/user", False, "bad_method"),
        ("GET", "/", True, "allowed"),
        ("GET", "/user/", False, "path_not_allowed"),  # a trailing slash is another resource
        ("GET", "/user?x=1", True, "allowed"),
        ("GET", "/users", False, "path_not_allowed"),
        ("GET", "/repos/a/issues", True, "allowed"),
        ("GET", "/repos//issues", False, "path_not_allowed"),  # "//" collapses: "*" needs a segment
        ("GET", "/repos/a/b/issues", False, "path_not_allowed"),  # "*" is one segment
        ("GET", "/repos/a/issues/1", False, "path_not_allowed"),
        ("GET", "/raw", True, "allowed"),  # "**" matches zero segments
        ("GET", "/raw/a/b/c", True, "allowed"),
        ("GET", "/v1/data.json", True, "allowed"),
        ("GET", "/v1/.json", True, "allowed"),
        ("GET", "/v1/a/b.json", False, "path_not_allowed"),
        # path tricks
        ("GET", "/repos/../admin", False, "path_not_allowed"),
        ("GET", "/raw/../admin", False, "path_not_allowed"),
        ("GET", "/raw/%2e%2e/admin", False, "path_not_allowed"),
        ("GET", "/raw/..;/admin", False, "path_not_allowed"),
        ("GET", "/raw/..%2Fadmin", False, "bad_path:encoded_slash"),
        ("GET", "/raw%2F..%2Fadmin", False, "bad_path:encoded_slash"),
        ("GET", "/repos/a%2Fb/issues", False, "bad_path:encoded_slash"),
        ("GET", "/user;jsessionid=1", True, "allowed"),
        ("GET", "/repos/x;/../../admin/issues", False, "path_not_allowed"),
        ("GET", "//user", True, "allowed"),
        ("GET", "/%75ser", True, "allowed"),
        ("GET", "/%2e%2e/user", True, "allowed"),
        ("GET", "/admin/../user", True, "allowed"),
        ("GET", "/user\x00", False, "bad_path:bad_character"),
        ("GET", "/user\r\nX-Evil: 1", False, "bad_path:bad_character"),
        ("GET", "http://api.github.com/user", False, "bad_path:not_origin_form"),
        ("GET", "*", False, "bad_path:not_origin_form"),
    ],
)
def test_decide_request(method: str | bytes, target: str | bytes, allowed: bool, reason: str) -> None:
    d = RuleSet.decide_request(API, method, target)
    assert (d.allowed, d.reason, d.rule) == (allowed, reason, API)


def test_tunnel_rules_pass_any_clean_request() -> None:
    rule = Rule(hosts=("example.com",))
    assert RuleSet.decide_request(rule, "PATCH", "/anything/at/all?x").allowed
    assert RuleSet.decide_request(rule, "GET", "/a%2Fb").reason == "bad_path:encoded_slash"


_GH = Rule(hosts=("api.github.com",), mode="intercept", methods=frozenset({"GET", "POST"}), paths=("/repos/**",),
           inject={"Authorization": "Bearer {secret:github}"})  # fmt: skip
_GH_CREDS = [(b"Authorization", b"Bearer ghp_abc")]


def _vet(method: bytes = b"GET", target: bytes = b"/repos/a/b", headers=None, tls: bool = True, **kw):
    if headers is None:
        headers = [(b"host", b"api.github.com")]
    kw.setdefault("credentials", lambda rule: _GH_CREDS)
    return vet_request(_GH, "api.github.com", 443, method, target, headers, tls, **kw)


def test_vet_request_plans_the_upstream_request() -> None:
    plan = _vet(
        b"GET", b"/repos/./a//b?x=1",
        [(b"host", b"API.github.com:443"), (b"authorization", b"Bearer forged"), (b"proxy_authorization", b"x"),
         (b"impersonate-user", b"admin"), (b"connection", b"keep-alive"), (b"te", b"trailers"), (b"accept", b"*/*")],
    )  # fmt: skip
    assert isinstance(plan, ForwardPlan)
    assert plan.target == b"/repos/a/b?x=1" and plan.host_header == "API.github.com:443"
    assert plan.headers == [(b"host", b"API.github.com:443"), (b"accept", b"*/*"), *_GH_CREDS]
    assert plan.idempotent and not plan.upgrade
    post = _vet(b"POST", headers=[(b"host", b"api.github.com"), (b"upgrade", b"WebSocket")])
    assert isinstance(post, ForwardPlan) and not post.idempotent and post.upgrade
    assert post.headers[-2:] == [(b"connection", b"Upgrade"), (b"upgrade", b"websocket")]


@pytest.mark.parametrize(
    ("kwargs", "reason", "status"),
    [
        ({"method": b"get"}, "bad_method", 400),
        ({"method": b"DELETE"}, "method_not_allowed", 403),
        ({"target": b"/admin"}, "path_not_allowed", 403),
        ({"target": b"/repos%2F..%2Fadmin"}, "bad_path:encoded_slash", 403),
        ({"headers": [(b"host", b"api.github.com"), (b"content-length", b"5"), (b"transfer-encoding", b"chunked")]},
         "content_length_and_transfer_encoding", 400),
        ({"headers": [(b"host", b"api.github.com"), (b"host", b"evil.com")]}, "duplicate_host", 400),
        ({"headers": []}, "missing_host", 400),
        ({"headers": [(b"host", b"evil.com")]}, "host_mismatch", 403),
        ({"headers": [(b"host", b"api.github.com:8443")]}, "host_mismatch", 403),
        ({"headers": [(b"host", b"api.github.com@evil.com")]}, "host_mismatch", 403),
        ({"headers": [(b"host", b"api.github.com"), (b"upgrade", b"h2c")]}, "upgrade_not_supported", 501),
        ({"tls": False}, "inject_requires_tls", 403),
        ({"credentials": lambda rule: render_inject(rule, {}.__getitem__)}, "missing_secret:github", 502),
    ],
)  # fmt: skip
def test_vet_request_refuses(kwargs: dict, reason: str, status: int) -> None:
    decision = _vet(**kwargs)
    assert not isinstance(decision, ForwardPlan)
    assert (decision.allowed, decision.reason, status_for(decision.reason)) == (False, reason, status)


def test_vet_request_trusts_a_host_value_already_matched() -> None:
    # Keep-alive requests repeat the Host the tunnel accepted; it is not parsed again, only compared.
    assert isinstance(_vet(headers=[(b"host", b"api.github.com")], matched_host_header="api.github.com"), ForwardPlan)
    refused = _vet(headers=[(b"host", b"evil.com")], matched_host_header="api.github.com")
    assert not isinstance(refused, ForwardPlan) and refused.reason == "host_mismatch"


def test_render_inject_and_strip() -> None:
    rule = Rule(hosts=("api.github.com",), mode="intercept", inject={"Authorization": "Bearer {secret:github}"})
    assert render_inject(rule, {"github": "ghp_abc"}.__getitem__) == [("Authorization", "Bearer ghp_abc")]
    with pytest.raises(InjectError) as e:
        render_inject(rule, {}.__getitem__)
    assert e.value.reason == "missing_secret:github"
    with pytest.raises(InjectError) as e:
        render_inject(rule, {"github": "ghp_abc\r\nX-Evil: 1"}.__getitem__)
    assert e.value.reason == "bad_secret_value:github"
    assert "ghp_abc" not in str(e.value)
    for name in [
        "authorization",
        b"AUTHORIZATION",
        "Authorization",
        "Proxy-Authorization",
        "proxy_authorization",
        "Impersonate-User",
        "impersonate_group",
        b"Impersonate-Extra-Scopes",
    ]:
        assert must_strip(name, rule), name
    assert not must_strip("x-other", rule)
    assert not must_strip("authorization", Rule(hosts=("example.com",)))
    assert must_strip("Impersonate-User", None)


# --- SSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "cgnat"),
        ("100.127.255.255", "cgnat"),
        ("169.254.1.1", "link_local"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("100.100.100.200", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "this_network"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.0.8", "ietf_protocol"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.1", "documentation"),
        ("203.0.113.1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link_local"),
        ("febf::1", "link_local"),
        ("fc00::1", "ula"),
        ("fd12:3456::1", "ula"),
        ("fd00:ec2::254", "metadata"),
        ("ff02::1", "multicast"),
        ("64:ff9b::7f00:1", "nat64:loopback"),
        ("64:ff9b::a9fe:a9fe", "nat64:metadata"),
        ("64:ff9b::a00:1", "nat64:private"),
        ("64:ff9b:1::1", "nat64_local"),
        ("2002:7f00:1::", "6to4:loopback"),
        ("2002:c0a8:101::1", "6to4:private"),
        ("2002:a9fe:a9fe::1", "6to4:metadata"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"),
        ("2001:2::1", "benchmarking"),
        ("2001:10::1", "ietf_protocol"),
        ("::ffff:127.0.0.1", "mapped:loopback"),
        ("::ffff:169.254.169.254", "mapped:metadata"),
        ("::ffff:10.0.0.1", "mapped:private"),
        ("::127.0.0.1", "reserved"),  # IPv4-compatible, deprecated
        ("::ffff:0:a00:1", "reserved"),  # SIIT IPv4-translated
        ("100::1", "reserved"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("4000::1", "reserved"),  # outside global unicast 2000::/3
        ("010.0.0.1", "bad_address"),
        ("127.1", "bad_address"),
        ("not an ip", "bad_address"),
    ],
)
def test_vet_address_refuses(ip: str, reason: str) -> None:
    v = vet_address(ip, allow_private=False, own=set())
    assert (v.allowed, v.reason) == (False, reason)


@pytest.mark.parametrize(
    "ip",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "2606:4700:4700::1111",
        "[2606:4700:4700::1111]",
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "::ffff:8.8.8.8",
        ipaddress.IPv4Address("8.8.4.4"),
        ipaddress.IPv6Address("2a00:1450:4001::1"),
    ],
)
def test_vet_address_public(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert vet_address(ip, allow_private=False, own=set()).allowed


@pytest.mark.parametrize(
    ("ip", "lifted"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("192.168.0.1", True),
        ("100.64.0.1", True),
        ("169.254.1.1", True),
        ("fc00::1", True),
        ("fe80::1", True),
        ("::1", True),
        ("::ffff:10.0.0.1", True),
        ("64:ff9b::a00:1", True),
        ("0.0.0.0", False),
        ("0.1.2.3", False),
        ("::", False),
        ("224.0.0.1", False),
        ("ff02::1", False),
        ("255.255.255.255", False),
        ("169.254.169.254", False),  # metadata stays refused even for private rules
        ("::ffff:169.254.169.254", False),
        ("fd00:ec2::254", False),
        ("192.0.2.1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
    ],
)
def test_allow_private_lifts_only_private(ip: str, lifted: bool) -> None:
    assert vet_address(ip, allow_private=True, own=set()).allowed is lifted


def test_own_addresses() -> None:
    own_ip = "93.184.216.34"
    assert vet_address(own_ip, False, {own_ip}).reason == "own_address"
    assert vet_address("::ffff:" + own_ip, False, {own_ip}).reason == "own_address"
    assert vet_address(own_ip, False, {(own_ip, 3128)}, port=3128).reason == "own_address"
    assert vet_address(own_ip, False, {(own_ip, 3128)}, port=443).allowed
    assert vet_address(own_ip, False, {(own_ip, 3128)}).reason == "own_address"  # port unknown: refuse
    # a wildcard listener covers loopback on its port, even with allow_private (a loop through the proxy)
    assert vet_address("127.0.0.1", True, [("0.0.0.0", 3128)], port=3128).reason == "own_address"
    assert vet_address("127.0.0.2", True, [("::", 3128)], port=3128).reason == "own_address"
    assert vet_address("127.0.0.1", True, [("0.0.0.0", 3128)], port=8443).allowed
    assert vet_address("8.8.8.8", False, [("0.0.0.0", 3128)], port=3128).allowed


def test_pick_address_vets_every_answer() -> None:
    assert pick_address(["93.184.216.34", "10.0.0.1"], False, set()) == (None, "private")
    assert pick_address(["10.0.0.1", "93.184.216.34"], False, set()) == (None, "private")
    assert pick_address(["2606:4700::1", "::ffff:127.0.0.1"], False, set()) == (None, "mapped:loopback")
    assert pick_address([], False, set()) == (None, "no_address")
    assert pick_address(["garbage"], False, set()) == (None, "bad_address")
    ip, reason = pick_address(["93.184.216.34", "2606:4700::1"], False, set())
    assert (ip, reason) == (ipaddress.ip_address("93.184.216.34"), "ok")
    assert pick_address(["127.0.0.1"], True, set()) == (ipaddress.ip_address("127.0.0.1"), "ok")
    assert pick_address(["127.0.0.1", "169.254.169.254"], True, set()) == (None, "metadata")


# --- ClientHello ----------------------------------------------------------------------------


def _client_hello(server_hostname: str | None, alpn: list[str] | None = None) -> bytes:
    ctx = ssl.create_default_context()
    if server_hostname is None:
        ctx.check_hostname = False
    if alpn:
        ctx.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def _crafted_hello(exts: list[tuple[int, bytes]], declared_len: int | None = None) -> bytes:
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    ext = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in exts)
    body += len(ext).to_bytes(2, "big") + ext
    hs = b"\x01" + (declared_len or len(body)).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


def _sni_ext(*names: bytes) -> tuple[int, bytes]:
    entries = b"".join(b"\x00" + len(n).to_bytes(2, "big") + n for n in names)
    return 0, len(entries).to_bytes(2, "big") + entries


def test_client_hello_from_a_real_client() -> None:
    data = _client_hello("api.example.com", ["h2", "http/1.1"])
    for cut in range(0, len(data), 37):  # any prefix: need more bytes
        assert parse_client_hello(data[:cut]) == ClientHello(False)
    hello = parse_client_hello(data)
    assert (hello.complete, hello.error, hello.sni, hello.alpn, hello.ech) == (
        True,
        None,
        "api.example.com",
        ("h2", "http/1.1"),
        False,
    )
    assert parse_client_hello(data + b"\x17\x03\x03").complete  # trailing bytes are not the hello's
    assert vet_client_hello("api.example.com", hello) == (True, "sni_ok")
    assert vet_client_hello("other.example.com", hello) == (False, "sni_mismatch")
    # the same hello split across two TLS records
    hs = data[5:]
    two = b"\x16\x03\x01" + (10).to_bytes(2, "big") + hs[:10] + b"\x16\x03\x01" + len(hs[10:]).to_bytes(2, "big")
    assert parse_client_hello(two + hs[10:]).sni == "api.example.com"


def test_client_hello_without_sni() -> None:
    hello = parse_client_hello(_client_hello(None))
    assert hello.complete and hello.sni is None
    assert vet_client_hello("1.2.3.4", hello) == (True, "sni_absent_ip")
    assert vet_client_hello("api.example.com", hello) == (False, "sni_missing")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "hello_not_tls"),
        (b"\x16\x02\x00\x00\x05hello", "hello_not_tls"),
        (b"\x16\x03\x01\x00\x00", "hello_bad_record"),
        (b"\x16\x03\x01\x50\x00", "hello_bad_record"),
        (b"\x16\x03\x01\x00\x04\x02\x00\x00\x00", "hello_not_client_hello"),
        (b"\x16\x03\x01\x00\x04\x01\x02\x00\x00", "hello_too_long"),
        (_crafted_hello([_sni_ext(b"a.example.com"), _sni_ext(b"b.example.com")]), "hello_duplicate_extension"),
        (_crafted_hello([_sni_ext(b"a.example.com", b"b.example.com")]), "hello_bad_sni"),
        (_crafted_hello([_sni_ext(b"a.example.com\x00.evil.com")]), "hello_bad_sni"),
        (_crafted_hello([(0, b"\x00\x10\x00")]), "hello_malformed"),
    ],
)
def test_client_hello_refuses(data: bytes, reason: str) -> None:
    hello = parse_client_hello(data)
    assert (hello.complete, hello.error) == (True, reason)
    assert vet_client_hello("a.example.com", hello) == (False, reason)


def test_client_hello_ech_refused_by_default() -> None:
    hello = parse_client_hello(_crafted_hello([_sni_ext(b"a.example.com"), (0xFE0D, b"\x00" * 40)]))
    assert hello.ech and hello.sni == "a.example.com"
    assert vet_client_hello("a.example.com", hello) == (False, "ech_refused")
    assert vet_client_hello("a.example.com", hello, allow_ech=True) == (True, "sni_ok")


# --- CA -------------------------------------------------------------------------------------


def test_ca_certificate(ca: CertificateAuthority) -> None:
    cert = ca.certificate
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(cn, str) and cn.startswith("tollgate egress CA ")
    assert cert.subject == cert.issuer
    assert 0 < cert.serial_number < 2**128
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(days=7, minutes=5)
    cert.verify_directly_issued_by(cert)
    pem = ca.cert_pem()
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----") and b"PRIVATE" not in pem
    other = CertificateAuthority.generate()
    assert other.certificate.serial_number != cert.serial_number
    assert other.certificate.subject != cert.subject
    assert len(ca.fingerprint_sha256) == 64


def test_ca_key_never_leaves(ca: CertificateAuthority) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(ca)
    public = [n for n in dir(ca) if not n.startswith("_")]
    assert not [n for n in public if "key" in n.lower() or "private" in n.lower() or "export" in n.lower()]
    assert "PRIVATE" not in repr(ca)


def test_leaf_certificate(ca: CertificateAuthority) -> None:
    now = datetime.now(UTC)
    cert_pem, key_pem = ca.issue_leaf("api.example.com")
    leaf = x509.load_pem_x509_certificate(cert_pem)
    leaf.verify_directly_issued_by(ca.certificate)
    assert leaf.issuer == ca.certificate.subject
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= timedelta(hours=24)
    assert leaf.not_valid_before_utc <= now - timedelta(minutes=4)  # backdated for clock skew
    assert leaf.not_valid_after_utc <= now + timedelta(hours=24)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.example.com"]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    leaf_ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert leaf_ski.digest != ca_ski.digest
    leaf_key = leaf.public_key()
    assert isinstance(leaf_key, ec.EllipticCurvePublicKey) and leaf_key.curve.name == "secp256r1"
    assert leaf_key.public_numbers() != ca.certificate.public_key().public_numbers()  # type: ignore[union-attr]
    assert b"PRIVATE KEY" in key_pem
    second = x509.load_pem_x509_certificate(ca.issue_leaf("api.example.com")[0])
    assert second.serial_number != leaf.serial_number
    assert second.public_key().public_numbers() != leaf_key.public_numbers()  # type: ignore[union-attr]


def test_leaf_ip_long_and_bad_hosts(ca: CertificateAuthority) -> None:
    for host in ["10.0.0.5", "2001:db8::1"]:
        leaf = x509.load_pem_x509_certificate(ca.issue_leaf(host)[0])
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(host)]
    long_host = ".".join(["a" * 40] * 3) + ".example.com"
    leaf = x509.load_pem_x509_certificate(ca.issue_leaf(long_host)[0])
    assert len(leaf.subject) == 0
    san_ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san_ext.critical and san_ext.value.get_values_for_type(x509.DNSName) == [long_host]
    for bad in ["API.example.com", "127.1", "a.example.com.", "[::1]"]:
        with pytest.raises(ValueError):
            ca.issue_leaf(bad)


def test_leaf_never_outlives_the_ca() -> None:
    start = datetime.now(UTC)
    short = CertificateAuthority.generate(timedelta(hours=2), now=start)
    leaf = x509.load_pem_x509_certificate(short.issue_leaf("a.example.com", now=start)[0])
    assert leaf.not_valid_after_utc == short.not_after
    with pytest.raises(CAExpiredError):
        short.issue_leaf("a.example.com", now=start + timedelta(hours=2))


def test_ca_survives_fork(ca: CertificateAuthority) -> None:
    pid = os.fork()
    if pid == 0:  # child: mint under the parent's CA and exit without running pytest's teardown
        code = 1
        try:
            leaf = x509.load_pem_x509_certificate(ca.issue_leaf("child.example.com")[0])
            leaf.verify_directly_issued_by(ca.certificate)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --- leaf contexts and handshakes (MemoryBIO, no sockets) -----------------------------------


def _handshake(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str
) -> tuple[ssl.SSLObject, ssl.SSLObject, dict[str, ssl.SSLError]]:
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    errors: dict[str, ssl.SSLError] = {}
    done: set[str] = set()
    for _ in range(8):
        for name, obj, out, peer in (("client", client, c_out, s_in), ("server", server, s_out, c_in)):
            if name not in errors and name not in done:
                try:
                    obj.do_handshake()
                    done.add(name)
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError as e:
                    errors[name] = e
            if pending := out.read():
                peer.write(pending)
    return server, client, errors


def _client_trusting(ca: CertificateAuthority) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=ca.cert_pem().decode())  # this CA only: no system store
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


async def test_leaf_context_handshake(ca: CertificateAuthority) -> None:
    ctx = await LeafCache(ca).context_for("api.example.com")
    server, client, errors = _handshake(ctx, _client_trusting(ca), "api.example.com")
    assert errors == {}
    assert client.selected_alpn_protocol() == "http/1.1"  # h11 only: never h2
    assert client.version() in ("TLSv1.2", "TLSv1.3")
    assert server.tollgate_sni_reason == "sni_ok"  # type: ignore[attr-defined]
    peer = x509.load_der_x509_certificate(client.getpeercert(binary_form=True) or b"")
    assert peer.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["api.example.com"]


async def test_leaf_context_refuses_other_hosts(ca: CertificateAuthority) -> None:
    ctx = await LeafCache(ca).context_for("api.example.com")
    # SNI for another name: refused by the context's SNI guard (no domain fronting)
    server, _, errors = _handshake(ctx, _client_trusting(ca), "evil.example.com")
    assert "server" in errors and "client" in errors
    assert errors["server"].reason == "CALLBACK_FAILED"
    assert (server.tollgate_sni, server.tollgate_sni_reason) == ("evil.example.com", "sni_mismatch")  # type: ignore[attr-defined]
    # without the guard, the client's own hostname check refuses the leaf for another host
    cert_pem, key_pem = ca.issue_leaf("api.example.com")
    unguarded = server_context("api.example.com", cert_pem, key_pem)
    unguarded.sni_callback = None
    _, _, errors = _handshake(unguarded, _client_trusting(ca), "evil.example.com")
    assert "client" in errors and errors["client"].reason == "CERTIFICATE_VERIFY_FAILED"
    # and a client that trusts another CA refuses it for the right host too
    _, _, errors = _handshake(ctx, _client_trusting(CertificateAuthority.generate()), "api.example.com")
    assert "client" in errors and errors["client"].reason == "CERTIFICATE_VERIFY_FAILED"


@pytest.mark.parametrize("in_executor", [True, False])
async def test_single_flight_minting(ca: CertificateAuthority, in_executor: bool) -> None:
    cache = LeafCache(ca, in_executor=in_executor)
    contexts = await asyncio.gather(*(cache.context_for("api.example.com") for _ in range(50)))
    assert all(c is contexts[0] for c in contexts)
    assert (cache.mints, cache.misses, cache.joins, cache.hits) == (1, 50, 49, 0)
    assert await cache.context_for("api.example.com") is contexts[0]
    assert cache.hits == 1 and len(cache) == 1


async def test_waiter_cancellation_does_not_cancel_the_mint(ca: CertificateAuthority) -> None:
    cache = LeafCache(ca)
    first = asyncio.create_task(cache.context_for("a.example.com"))
    second = asyncio.create_task(cache.context_for("a.example.com"))
    await asyncio.sleep(0)
    first.cancel()
    ctx = await second
    assert isinstance(ctx, ssl.SSLContext) and cache.mints == 1
    assert await cache.context_for("a.example.com") is ctx


async def test_lru_eviction_and_refresh(ca: CertificateAuthority) -> None:
    now = [datetime.now(UTC).timestamp()]
    cache = LeafCache(ca, max_entries=2, clock=lambda: now[0], in_executor=False)
    a = await cache.context_for("a.example.com")
    await cache.context_for("b.example.com")
    assert await cache.context_for("a.example.com") is a  # a is now the most recent
    await cache.context_for("c.example.com")  # evicts b
    assert cache.evictions == 1 and len(cache) == 2
    assert await cache.context_for("a.example.com") is a
    await cache.context_for("b.example.com")
    assert cache.mints == 4
    now[0] += 13 * 3600  # past half of the leaf's life: re-minted before it can expire
    assert await cache.context_for("a.example.com") is not a
    assert cache.mints == 5
    assert cache.stats()["evictions"] == cache.evictions


async def test_mint_errors_are_not_cached(ca: CertificateAuthority) -> None:
    cache = LeafCache(ca)
    for _ in range(2):
        with pytest.raises(ValueError):
            await cache.context_for("Not Canonical")
    assert cache.errors == 2 and cache.mints == 0 and len(cache) == 0


async def test_clear_drops_mints_in_flight(ca: CertificateAuthority) -> None:
    cache = LeafCache(ca)
    pending = asyncio.create_task(cache.context_for("a.example.com"))
    await asyncio.sleep(0)
    cache.clear()
    assert isinstance(await pending, ssl.SSLContext)  # the caller still gets its context
    assert len(cache) == 0  # but it is not kept


def test_reasons_are_bounded() -> None:
    """Every reason a test above expects is in the published sets (metric labels stay bounded)."""
    from egress.hosts import HOST_ERROR_REASONS
    from egress.paths import PATH_ERROR_REASONS

    host_cases = test_canonical_host_refuses.pytestmark[0].args[1]  # type: ignore[attr-defined]
    auth_cases = test_parse_authority_refuses.pytestmark[0].args[1]  # type: ignore[attr-defined]
    path_cases = test_normalize_path_refuses.pytestmark[0].args[1]  # type: ignore[attr-defined]
    assert {r for _, r in host_cases} | {r for _, r in auth_cases} <= set(HOST_ERROR_REASONS)
    assert {r for _, r in path_cases} <= set(PATH_ERROR_REASONS)


def test_checking_egress_config_needs_neither_h11_nor_ssl() -> None:
    """The config translation is pure: validating a file does not load the proxy's I/O stack (what
    the `config` package itself loads is its own business)."""
    import subprocess
    import sys

    code = (
        "import sys, config\n"
        "before = set(sys.modules)\n"
        "from egress import RuleSet, policies_from_config, vet_request\n"
        "added = set(sys.modules) - before\n"
        "assert not {'h11', 'ssl', 'egress.proxy', 'egress.ca', 'cryptography.x509'} & added, sorted(added)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": root}, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
