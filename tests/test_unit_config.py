"""config.parse_config: validation errors that name their path in the file and say how to fix it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError, hash_token, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


BASE: dict[str, Any] = {
    "providers": [
        {"name": "mock", "kind": "mock", "models": [{"name": "mock-gpt"}, {"name": "mock-embed", "kind": "embedding"}]}
    ],
    "orgs": [
        {
            "id": "acme",
            "teams": [{"id": "research", "agents": [{"id": "alice", "tokens": [hash_token("tg-alice")]}]}],
        }
    ],
}


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def errors_of(config: dict[str, Any] | str) -> list[str]:
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return info.value.errors


def the_error(config: dict[str, Any] | str) -> str:
    errors = errors_of(config)
    assert len(errors) == 1, errors
    return errors[0]


def test_base_config_is_valid():
    config = parse_config(yaml.safe_dump(base()))
    assert [m.name for m in config.providers[0].models] == ["mock-gpt", "mock-embed"]


def test_demo_config_loads_cleanly():
    config = load_config(ROOT / "config" / "demo.yaml")
    assert config.providers[0].kind == "mock"
    agent = config.orgs[0].teams[0].agents[0]
    assert agent.id == "demo-agent"
    assert agent.tokens == [hash_token("tg-demo-local-only-not-a-secret")]


def test_negative_price_names_the_model_field_path():
    config = base()
    config["providers"][0]["models"][0]["input_usd_per_1m"] = -1
    assert the_error(config).startswith("providers[0].models[0].input_usd_per_1m: ")


def test_port_out_of_range_names_its_path():
    config = {**base(), "listeners": {"llm": {"port": 70000}}}
    error = the_error(config)
    assert error.startswith("listeners.llm.port: ")
    assert "65535" in error


def test_bad_token_names_the_agent_tokens_path():
    config = base()
    config["orgs"][0]["teams"][0]["agents"][0]["tokens"] = ["not-a-hash"]
    error = the_error(config)
    assert error.startswith("orgs[0].teams[0].agents[0].tokens: ")
    assert "sha256:" in error
    assert "tollgate token create" in error


def test_raw_token_gets_the_hashing_hint():
    config = base()
    config["orgs"][0]["teams"][0]["agents"][0]["tokens"] = ["tg-raw-secret-token"]
    error = the_error(config)
    assert error.startswith("orgs[0].teams[0].agents[0].tokens: ")
    assert "looks like a raw token: store only its hash" in error


def test_raw_token_is_not_echoed_in_the_error():
    config = base()
    config["orgs"][0]["teams"][0]["agents"][0]["tokens"] = ["tg-raw-secret-token"]
    assert "tg-raw-secret-token" not in the_error(config)


def test_upper_case_hash_is_rejected():
    config = base()
    config["orgs"][0]["teams"][0]["agents"][0]["tokens"] = [hash_token("tg-x").upper().replace("SHA256", "sha256")]
    assert the_error(config).startswith("orgs[0].teams[0].agents[0].tokens: ")


def test_unknown_key_is_named_with_its_path():
    config = base()
    config["providers"][0]["models"][0]["max_tokens"] = 10
    assert the_error(config) == "providers[0].models[0].max_tokens: unknown setting (check the spelling)"


def test_unknown_top_level_key_is_named():
    assert the_error({**base(), "listners": {}}) == "listners: unknown setting (check the spelling)"


def test_unknown_capitalised_key_is_named():
    config = base()
    config["providers"][0]["Kind"] = "mock"
    assert the_error(config) == "providers[0].Kind: unknown setting (check the spelling)"


def test_every_problem_is_reported_not_just_the_first():
    config = base()
    config["providers"][0]["models"][0]["input_usd_per_1m"] = -1
    config["orgs"][0]["teams"][0]["agents"][0]["tokens"] = ["bad"]
    errors = errors_of(config)
    assert len(errors) == 2
    assert any(e.startswith("providers[0].models[0].input_usd_per_1m: ") for e in errors)
    assert any(e.startswith("orgs[0].teams[0].agents[0].tokens: ") for e in errors)


def test_env_var_is_expanded(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TG_TEST_API_KEY", "sk-from-env")
    config = base()
    config["providers"][0]["api_key"] = "${TG_TEST_API_KEY}"
    assert parse_config(yaml.safe_dump(config)).providers[0].api_key == "sk-from-env"


def test_env_var_is_expanded_inside_a_longer_string(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TG_TEST_HOST", "llm.internal")
    config = base()
    config["providers"].append(
        {"name": "up", "kind": "openai", "base_url": "https://${TG_TEST_HOST}/v1", "models": [{"name": "up-gpt"}]}
    )
    assert parse_config(yaml.safe_dump(config)).providers[1].base_url == "https://llm.internal/v1"


def test_env_var_fills_a_numeric_field(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TG_TEST_PORT", "9099")
    config = {**base(), "listeners": {"llm": {"port": "${TG_TEST_PORT}"}}}
    assert parse_config(yaml.safe_dump(config)).listeners.llm.port == 9099


def test_unset_env_var_is_an_error_naming_the_path(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TG_TEST_UNSET", raising=False)
    config = base()
    config["providers"][0]["api_key"] = "${TG_TEST_UNSET}"
    assert the_error(config) == "providers[0].api_key: environment variable TG_TEST_UNSET is not set"


def test_env_var_set_to_empty_string_is_not_an_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TG_TEST_EMPTY", "")
    config = base()
    config["providers"][0]["api_key"] = "${TG_TEST_EMPTY}"
    assert parse_config(yaml.safe_dump(config)).providers[0].api_key == ""


def test_invalid_yaml_gives_line_and_column():
    text = "providers:\n  - name: mock\n    kind: [mock\n"
    error = the_error(text)
    assert error.startswith("line ")
    assert ", column " in error
    assert "invalid YAML" in error


def test_invalid_yaml_line_is_one_based():
    text = "providers: [{name: m, kind: mock\n  models: [x]}]\n"
    assert the_error(text).startswith("line 2, column ")


def test_top_level_must_be_a_mapping():
    assert the_error("- just\n- a list\n") == "(top level): expected a mapping of settings"


def test_empty_file_is_an_error():
    assert the_error("") == "(top level): expected a mapping of settings"


def test_config_error_message_names_the_source():
    with pytest.raises(ConfigError, match=r"^my\.yaml: \(top level\)"):
        parse_config("[]", "my.yaml")


def test_load_config_of_a_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "missing.yaml")


def test_providers_are_required():
    error = the_error("orgs: []\n")
    assert error.startswith("providers: ")


def test_duplicate_model_across_providers_is_named():
    config = base()
    config["providers"].append({"name": "other", "kind": "mock", "models": [{"name": "mock-gpt"}]})
    error = the_error(config)
    assert error == "providers[1].models[0].name: model 'mock-gpt' is already served by 'mock'"


def test_duplicate_agent_ids_are_named():
    config = base()
    config["orgs"][0]["teams"].append({"id": "ops", "agents": [{"id": "alice"}]})
    assert the_error(config).startswith("orgs[0].teams[1].agents[0].id: agent id 'alice' is used twice")


def test_duplicate_token_hash_is_an_error():
    config = base()
    config["orgs"][0]["teams"].append({"id": "ops", "agents": [{"id": "bob", "tokens": [hash_token("tg-alice")]}]})
    assert the_error(config).startswith("orgs[0].teams[1].agents[0].tokens[0]: this token hash is already given")


def test_agent_allowing_an_unserved_model_is_named():
    config = base()
    config["orgs"][0]["teams"][0]["agents"][0]["models"] = ["mock-gpt", "gpt-9"]
    assert the_error(config) == "orgs[0].teams[0].agents[0].models[1]: no provider serves the model 'gpt-9'"


def test_team_allowing_an_unserved_model_is_named():
    config = base()
    config["orgs"][0]["teams"][0]["models"] = ["gpt-9"]
    assert the_error(config) == "orgs[0].teams[0].models[0]: no provider serves the model 'gpt-9'"


def test_star_is_allowed_as_a_model():
    config = base()
    config["orgs"][0]["models"] = ["*"]
    assert parse_config(yaml.safe_dump(config)).orgs[0].models == ["*"]


def test_cross_reference_errors_name_their_path_one_per_problem():
    config = base()
    config["orgs"][0]["teams"][0]["agents"][0]["models"] = ["mock-gpt", "gpt-9"]
    config["orgs"][0]["teams"].append({"id": "ops", "agents": [{"id": "alice"}]})
    errors = errors_of(config)
    assert len(errors) == 2
    assert any(e.startswith("orgs[0].teams[0].agents[0].models[1]: ") for e in errors)


def test_openai_provider_without_base_url_says_what_to_add():
    config = base()
    config["providers"].append({"name": "oa", "kind": "openai", "models": [{"name": "gpt-4o"}]})
    error = the_error(config)
    assert error.startswith("providers[1]: ")
    assert "needs base_url" in error
    assert "https://api.openai.com/v1" in error


def test_base_url_must_be_http():
    config = base()
    config["providers"].append({"name": "oa", "kind": "openai", "base_url": "ftp://x", "models": [{"name": "gpt-4o"}]})
    assert the_error(config).startswith("providers[1]: base_url must start with http:// or https://")


def test_unknown_provider_kind_names_its_path():
    config = base()
    config["providers"][0]["kind"] = "gemini"
    assert the_error(config).startswith("providers[0].kind: ")


def test_an_anthropic_provider_needs_a_base_url_and_only_openai_may_keep_responses_state():
    config = base()
    config["providers"][0] = {"name": "a", "kind": "anthropic", "models": [{"name": "claude"}]}
    assert "needs base_url (e.g. https://api.anthropic.com)" in the_error(config)
    config["providers"][0] = {"name": "m", "kind": "mock", "responses_state": True, "models": [{"name": "x"}]}
    assert "responses_state applies to kind 'openai' only" in the_error(config)


def test_invalid_org_id_names_its_path():
    config = base()
    config["orgs"][0]["id"] = "has space"
    assert the_error(config).startswith("orgs[0].id: ")


def test_config_is_immutable():
    config = parse_config(yaml.safe_dump(base()))
    with pytest.raises(ValueError):
        config.providers[0].name = "changed"  # type: ignore[misc]


def _with_agents(*agents: dict[str, Any], other_org: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    config = base()
    config["orgs"][0]["teams"].append({"id": "ops", "agents": list(agents)})
    if other_org is not None:
        config["orgs"].append({"id": "globex", "teams": [{"id": "g", "agents": other_org}]})
    return config


def test_a_subagent_names_a_parent_of_its_own_org():
    config = parse_config(yaml.safe_dump(_with_agents({"id": "helper", "parent": "alice"})))
    assert config.orgs[0].teams[1].agents[0].parent == "alice"  # another team of the same org is fine


def test_subagent_parents_are_checked_with_their_paths():
    path = "orgs[0].teams[1].agents[0].parent"
    assert the_error(_with_agents({"id": "helper", "parent": "carol"}, other_org=[{"id": "carol"}])) == (
        f"{path}: no agent 'carol' in org 'acme' (a parent must be in the same org)"
    )
    assert the_error(_with_agents({"id": "helper", "parent": "helper"})) == f"{path}: an agent cannot be its own parent"
    nested = _with_agents({"id": "helper", "parent": "alice"}, {"id": "helper2", "parent": "helper"})
    assert the_error(nested) == (
        "orgs[0].teams[1].agents[1].parent: 'helper' is itself a subagent of 'alice'; subagents are one level only "
        "(use parent: alice)"
    )


def test_the_postgres_sink_needs_a_postgresql_dsn_and_never_echoes_it():
    config = base()
    config["audit"] = {"sink": "postgres"}
    assert the_error(config) == "audit: sink 'postgres' needs dsn (e.g. postgresql://tollgate@127.0.0.1:5432/tollgate)"
    config["audit"] = {"sink": "postgres", "dsn": "mysql://u:hunter2@db/x"}
    error = the_error(config)
    assert "must start with postgresql://" in error and "hunter2" not in error
