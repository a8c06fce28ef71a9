"""gateway.auth: credentials from headers, token → principal, model allow-lists."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from config import Decision, hash_token, parse_config
from gateway.auth import Directory, Principal, authenticate, bearer_token, model_decision

ALICE = "tg-alice-0123456789abcdefghijklmnop"
BOB = "tg-bob-0123456789abcdefghijklmnopqrs"
CAROL = "tg-carol-0123456789abcdefghijklmnop"
DAVE = "tg-dave-0123456789abcdefghijklmnopqr"
ERIN = "tg-erin-0123456789abcdefghijklmnopqr"


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def directory(orgs: list[dict[str, Any]]) -> Directory:
    config = {
        "providers": [{"name": "mock", "kind": "mock", "models": [{"name": m} for m in ("a", "b", "c")]}],
        "orgs": orgs,
    }
    return Directory(parse_config(yaml.safe_dump(config)))


def agent(id: str, token: str, models: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": id, "tokens": [hash_token(token)]}
    if models is not None:
        out["models"] = models
    return out


@pytest.fixture
def dirx() -> Directory:
    return directory(
        [
            {
                "id": "acme",
                "models": ["a", "b", "c"],
                "teams": [
                    {
                        "id": "research",
                        "models": ["b", "c"],
                        "agents": [agent("alice", ALICE), agent("bob", BOB, ["c"])],
                    },
                    {"id": "ops", "agents": [agent("carol", CAROL)]},
                ],
            },
            {"id": "globex", "teams": [{"id": "g", "agents": [agent("dave", DAVE), agent("erin", ERIN, ["*"])]}]},
        ]
    )


# bearer_token


def test_bearer_scheme_gives_the_token():
    assert bearer_token("Bearer tg-abc", None) == "tg-abc"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_bearer_scheme_is_case_insensitive(scheme: str):
    assert bearer_token(f"{scheme} tg-abc", None) == "tg-abc"


def test_bearer_value_is_stripped():
    assert bearer_token("Bearer   tg-abc  ", None) == "tg-abc"


def test_x_api_key_is_the_fallback():
    assert bearer_token(None, "tg-abc") == "tg-abc"


def test_empty_authorization_falls_back_to_x_api_key():
    assert bearer_token("", "tg-abc") == "tg-abc"


def test_authorization_wins_over_x_api_key():
    assert bearer_token("Bearer tg-one", "tg-two") == "tg-one"


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Token tg-abc", "Bearer", "Bearer    ", "tg-abc", "Bearertg-abc"]
)
def test_odd_or_empty_schemes_give_none(header: str):
    assert bearer_token(header, None) is None


def test_blank_x_api_key_gives_none():
    assert bearer_token(None, "   ") is None


def test_no_credentials_give_none():
    assert bearer_token(None, None) is None


# Directory.authenticate


def test_known_token_gives_its_principal(dirx: Directory):
    principal = dirx.authenticate(ALICE)
    assert principal is not None
    assert (principal.agent_id, principal.team_id, principal.org_id) == ("alice", "research", "acme")
    assert principal.token_hash == hash_token(ALICE)


def test_unknown_token_gives_none(dirx: Directory):
    assert dirx.authenticate("tg-nobody-0123456789abcdefghijklmno") is None


@pytest.mark.parametrize("token", [None, ""])
def test_missing_token_gives_none(dirx: Directory, token: str | None):
    assert dirx.authenticate(token) is None


def test_token_differing_by_one_character_gives_none(dirx: Directory):
    assert dirx.authenticate(ALICE[:-1] + "q") is None
    assert dirx.authenticate(ALICE[:-1]) is None
    assert dirx.authenticate(ALICE + " ") is None


def test_the_hash_itself_is_not_a_token(dirx: Directory):
    assert dirx.authenticate(hash_token(ALICE)) is None


def test_directory_contains_token_hashes_not_tokens(dirx: Directory):
    assert hash_token(ALICE) in dirx
    assert ALICE not in dirx


def test_every_token_of_an_agent_authenticates():
    d = directory(
        [{"id": "o", "teams": [{"id": "t", "agents": [{"id": "x", "tokens": [hash_token(ALICE), hash_token(BOB)]}]}]}]
    )
    a, b = d.authenticate(ALICE), d.authenticate(BOB)
    assert a is not None and b is not None
    assert a.agent_id == b.agent_id == "x"


# model allow-lists


def models_of(d: Directory, token: str) -> frozenset[str] | None:
    principal = d.authenticate(token)
    assert principal is not None
    return principal.models


def test_agent_list_narrows_the_team_list(dirx: Directory):
    assert models_of(dirx, BOB) == frozenset({"c"})


def test_agent_list_cannot_widen_what_its_team_allows():
    d = directory([{"id": "o", "teams": [{"id": "t", "models": ["b"], "agents": [agent("x", ALICE, ["a", "b"])]}]}])
    assert models_of(d, ALICE) == frozenset({"b"})


def test_agent_without_list_inherits_the_team_list(dirx: Directory):
    assert models_of(dirx, ALICE) == frozenset({"b", "c"})


def test_team_without_list_inherits_the_org_list(dirx: Directory):
    assert models_of(dirx, CAROL) == frozenset({"a", "b", "c"})


def test_no_list_anywhere_allows_every_model(dirx: Directory):
    assert models_of(dirx, DAVE) is None


def test_star_allows_every_model(dirx: Directory):
    assert models_of(dirx, ERIN) is None


def test_star_at_org_level_is_inherited():
    d = directory([{"id": "o", "models": ["*"], "teams": [{"id": "t", "agents": [agent("x", ALICE)]}]}])
    assert models_of(d, ALICE) is None


def test_empty_agent_list_allows_nothing():
    d = directory([{"id": "o", "teams": [{"id": "t", "agents": [agent("x", ALICE, [])]}]}])
    assert models_of(d, ALICE) == frozenset()


# model_decision


def principal(models: frozenset[str] | None) -> Principal:
    return Principal("alice", "research", "acme", hash_token(ALICE), models)


def test_unserved_model_is_not_found():
    decision = model_decision(principal(None), "gpt-9", served=False)
    assert decision == Decision(False, "model_not_found")


def test_unserved_model_is_not_found_even_when_listed():
    decision = model_decision(principal(frozenset({"gpt-9"})), "gpt-9", served=False)
    assert decision.reason == "model_not_found"


def test_served_but_not_allowed_model_is_refused():
    decision = model_decision(principal(frozenset({"a"})), "b", served=True)
    assert decision == Decision(False, "model_not_allowed")


def test_allowed_model_is_allowed():
    decision = model_decision(principal(frozenset({"a"})), "a", served=True)
    assert decision == Decision(True, "allowed")


def test_any_served_model_is_allowed_without_a_list():
    assert model_decision(principal(None), "c", served=True).allowed


# authenticate: the principal, or why there is none


def test_authenticate_finds_the_principal_by_bearer_or_x_api_key(dirx: Directory) -> None:
    by_bearer = authenticate(dirx, f"Bearer {ALICE}", None)
    assert isinstance(by_bearer, Principal) and by_bearer.agent_id == "alice"
    assert authenticate(dirx, None, ALICE) == by_bearer


def test_authenticate_says_whether_the_token_was_missing_or_wrong(dirx: Directory) -> None:
    assert authenticate(dirx, None, None) == Decision(False, "missing_token")
    assert authenticate(dirx, "Basic abc", "  ") == Decision(False, "missing_token")
    assert authenticate(dirx, "Bearer tg-nobody-0123456789abcdefghijkl", None) == Decision(False, "invalid_token")
