"""The sandbox's pure decisions: durations, arguments, environment, nftables text, idleness."""

from __future__ import annotations

import pytest

from gateway.sandbox.plan import (
    CA_VARIABLES,
    Endpoint,
    PlanError,
    command_args,
    exit_code,
    extra_env,
    idle_left,
    nft_difference,
    nft_script,
    parse_duration,
    parse_proxy,
    sandbox_env,
)


def test_durations() -> None:
    assert parse_duration("30m") == 1800
    assert parse_duration("90s") == 90 and parse_duration("90") == 90
    assert parse_duration("1.5h") == 5400 and parse_duration("250ms") == 0.25
    assert parse_duration("off") is None and parse_duration("0") is None and parse_duration("0s") is None
    for bad in ("", "m", "-5s", "5 minutes", "1e3"):
        with pytest.raises(PlanError, match="not a duration"):
            parse_duration(bad)


def test_command_after_the_separator() -> None:
    assert command_args(["--", "ls", "--agent"]) == ["ls", "--agent"]
    assert command_args(["bash"]) == ["bash"]
    with pytest.raises(PlanError, match="no command to run"):
        command_args(["--"])


def test_proxy_urls() -> None:
    assert parse_proxy("http://127.0.0.1:3128") == Endpoint(host="127.0.0.1", port=3128)
    assert parse_proxy("http://[::1]:3128/") == Endpoint(host="::1", port=3128)
    assert parse_proxy("unix:/run/tollgate/egress.sock") == Endpoint(path="/run/tollgate/egress.sock")
    assert parse_proxy("unix:///run/egress.sock") == Endpoint(path="/run/egress.sock")
    assert str(Endpoint(host="::1", port=1)) == "[::1]:1"
    for bad in ("https://x:1", "http://alice:tok@h:1", "unix:rel.sock", "http://h:99999", "http://h:1/path"):
        with pytest.raises(PlanError, match="--proxy"):
            parse_proxy(bad)


def test_environment_is_built_from_nothing_but_the_doors() -> None:
    caller = {"TERM": "xterm", "OPENAI_API_KEY": "sk-caller", "AWS_SECRET_ACCESS_KEY": "x", "PATH": "/opt/evil"}
    env = sandbox_env(agent="a b", token="tg-x/y", proxy_port=41000, llm_port=None, ca_bundle="/b.pem", home="/w",
                      user="nobody", caller=caller, extra={"TASK": "fix it"})  # fmt: skip
    assert env["HTTPS_PROXY"] == "http://a%20b:tg-x%2Fy@127.0.0.1:41000" == env["http_proxy"]
    assert env["TERM"] == "xterm" and env["TASK"] == "fix it" and env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert "OPENAI_API_KEY" not in env and "OPENAI_BASE_URL" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert all(env[name] == "/b.pem" for name in CA_VARIABLES)
    with_llm = sandbox_env(agent="a", token="t", proxy_port=1, llm_port=2, ca_bundle="/b", home="/w", user="u",
                           caller={}, extra={})  # fmt: skip
    assert with_llm["OPENAI_BASE_URL"] == "http://127.0.0.1:2/v1" and with_llm["OPENAI_API_KEY"] == "t"
    assert with_llm["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:2" and with_llm["ANTHROPIC_API_KEY"] == "t"


def test_extra_env_cannot_replace_the_sandbox_variables() -> None:
    assert extra_env(["A=1", "B=x=y", "C="], {}) == {"A": "1", "B": "x=y", "C": ""}
    # NAME alone passes the caller's value on, so a secret never has to be written on a command line.
    assert extra_env(["TOKEN"], {"TOKEN": "s3cret"}) == {"TOKEN": "s3cret"}
    with pytest.raises(PlanError, match="TOKEN: not set in this environment"):
        extra_env(["TOKEN"], {})
    with pytest.raises(PlanError, match="set by the sandbox itself"):
        extra_env(["HTTPS_PROXY=http://elsewhere"], {})
    with pytest.raises(PlanError, match="expected NAME=VALUE"):
        extra_env(["1A=x"], {})


def test_idle_clock() -> None:
    assert idle_left(100.0, 40.0, 60.0, awaiting=0) == 0  # due now
    assert idle_left(100.0, 90.0, 60.0, awaiting=0) == 50
    assert idle_left(100.0, 0.0, 60.0, awaiting=1) == 60  # an answer is due: not idle
    assert idle_left(100.0, 0.0, None, awaiting=0) is None


def test_exit_codes() -> None:
    assert exit_code(7 << 8) == 7
    assert exit_code(15) == 143  # killed by SIGTERM


def test_nft_script_and_its_check() -> None:
    script = nft_script(1000, [3128, 8080, 3128])
    assert "delete table inet tollgate_sandbox_1000" in script
    assert script.count("tcp dport 3128 accept") == 2 and script.count("tcp dport 8080 accept") == 2
    # What `nft list table` prints back (tabs, counters) is the same table.
    table = script[script.index("table inet tollgate_sandbox_1000 {") :]
    assert nft_difference(table, 1000, [8080, 3128]) is None
    counted = table.replace("reject\n", "counter packets 3 bytes 180 reject\n")
    assert nft_difference(counted, 1000, [3128, 8080]) is None
    assert nft_difference(table, 1000, [3128]) == (
        "line 6: expected 'meta skuid 1000 meta l4proto tcp reject with tcp reset', "
        "loaded 'meta skuid 1000 oifname \"lo\" ip daddr 127.0.0.1 tcp dport 8080 accept'"
    )
    assert nft_difference(table + "extra\n", 1000, [3128, 8080]) == "line 12: unexpected 'extra'"
