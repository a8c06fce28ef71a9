"""Fixtures: a recording upstream on loopback and tollgate itself as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from config import hash_token
from tests.upstream import Upstream, free_port

ROOT = Path(__file__).resolve().parent.parent

ALICE = "tg-test-alice-0123456789abcdefghijklmnop"  # acme/research, every model
BOB = "tg-test-bob-0123456789abcdefghijklmnopqrs"  # acme/ops, only up-gpt
CAROL = "tg-test-carol-0123456789abcdefghijklmnop"  # globex/g, every model
PROVIDER_KEY = "sk-provider-secret-0123456789"
ANTHROPIC_KEY = "sk-ant-provider-secret-0123456789"

UPSTREAM_MODELS = [
    "up-gpt", "slow-3000", "error-429", "error-500", "html-502", "cut", "garbage", "drip", "nousage", "charwise",
    "goenc", "hexenc",
]  # fmt: skip


def base_config(upstream_url: str, llm_port: int, admin_port: int) -> dict[str, Any]:
    return {
        "listeners": {
            "llm": {"host": "127.0.0.1", "port": llm_port},
            "admin": {"host": "127.0.0.1", "port": admin_port},
            "egress": {"host": "127.0.0.1", "port": free_port()},
        },
        "limits": {"max_body_bytes": 64 * 1024, "upstream_read_timeout_s": 2.0, "shutdown_grace_s": 5},
        "admin": {"token_sha256": hash_token("tg-admin-test-token")},
        "providers": [
            {
                "name": "up",
                "kind": "openai",
                "base_url": upstream_url,
                "api_key": PROVIDER_KEY,
                "models": [
                    *({"name": m, "input_usd_per_1m": 1.0, "output_usd_per_1m": 2.0} for m in UPSTREAM_MODELS),
                    {"name": "renamed", "upstream_name": "actual-model"},
                    {"name": "up-embed", "kind": "embedding", "input_usd_per_1m": 0.1},
                ],
            },
            {
                "name": "down",
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{free_port()}/v1",
                "models": [{"name": "down-gpt"}],
            },
            {
                "name": "mock",
                "kind": "mock",
                "mock": {"chunks": 4},
                "models": [{"name": "mock-gpt"}, {"name": "mock-embed", "kind": "embedding"}],
            },
            {
                "name": "anth",
                "kind": "anthropic",
                "base_url": upstream_url.removesuffix("/v1"),
                "api_key": ANTHROPIC_KEY,
                "models": [
                    {"name": "claude-" + m, "input_usd_per_1m": 1.0, "output_usd_per_1m": 2.0}
                    for m in (
                        "up",
                        "slow-3000",
                        "error-429",
                        "html-502",
                        "cut",
                        "garbage",
                        "drip",
                        "charwise",
                        "goenc",
                        "hexenc",
                    )
                ],
            },
        ],
        "orgs": [
            {
                "id": "acme",
                "teams": [
                    {"id": "research", "agents": [{"id": "alice", "tokens": [hash_token(ALICE)]}]},
                    {"id": "ops", "agents": [{"id": "bob", "models": ["up-gpt"], "tokens": [hash_token(BOB)]}]},
                ],
            },
            {"id": "globex", "teams": [{"id": "g", "agents": [{"id": "carol", "tokens": [hash_token(CAROL)]}]}]},
        ],
        "audit": {"sink": "local", "path": "var/audit.jsonl", "flush_interval_s": 0.05},
    }


def run_tollgate(
    workdir: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m gateway ARGS` in `workdir`, as an operator runs the CLI (value on stdin)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=workdir, input=stdin, capture_output=True, text=True,
        env=full_env, timeout=30,
    )  # fmt: skip


class Gateway:
    """tollgate started as `python -m gateway serve` in its own working directory."""

    def __init__(
        self, workdir: Path, config: dict[str, Any], workers: int = 1, env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.config = config
        self.workers = workers
        self.env = env or {}  # added to the inherited environment (e.g. TOLLGATE_MASTER_KEY)
        self.config_path = workdir / "tollgate.yaml"
        self.log_path = workdir / "tollgate.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.write_config(config)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.config['listeners']['llm']['port']}/v1"

    @property
    def egress_port(self) -> int:
        return int(self.config["listeners"]["egress"]["port"])

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.config['listeners']['admin']['port']}"

    def set_secret(self, name: str, value: str) -> None:
        """`tollgate secrets set NAME` into this gateway's store, with its master key."""
        out = run_tollgate(self.workdir, "secrets", "set", name, "--config", str(self.config_path), stdin=value,
                           env=self.env)  # fmt: skip
        assert out.returncode == 0, out.stderr

    def write_config(self, config: dict[str, Any] | str) -> None:
        text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
        self.config_path.write_text(text)

    def start(self) -> Gateway:
        log = self.log_path.open("ab")
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        cmd = [sys.executable, "-m", "gateway", "serve", "--config", str(self.config_path)]
        self.proc = subprocess.Popen(
            [*cmd, "--workers", str(self.workers)], cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tollgate exited early:\n{self.log()}")
            try:
                if httpx.get(self.admin_url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"tollgate did not become ready:\n{self.log()}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 15) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def audit_events(self) -> list[dict[str, Any]]:
        path = self.workdir / "var" / "audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def audit_where(self, match: Callable[[dict[str, Any]], bool], timeout: float = 3.0) -> list[dict[str, Any]]:
        """The audit rows `match` accepts, waiting for at least one (the sink is written asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [event for event in self.audit_events() if match(event)]
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError("no matching audit event")
            time.sleep(0.05)

    def audit_for(self, request_id: str, timeout: float = 3.0) -> dict[str, Any]:
        return self.audit_where(lambda event: event["request_id"] == request_id, timeout)[0]


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    up = Upstream().start()
    yield up
    up.stop()


@pytest.fixture(scope="module")
def gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("tollgate")
    gw = Gateway(workdir, base_config(upstream.base_url, free_port(), free_port())).start()
    yield gw
    gw.stop()


@pytest.fixture
def fresh_gateway(upstream: Upstream, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway of the test's own, for tests that reload, signal or stop it (not started yet)."""
    gw = Gateway(tmp_path, base_config(upstream.base_url, free_port(), free_port()))
    yield gw
    if gw.proc is not None:
        gw.stop()


@pytest.fixture
def prefix() -> str:
    """A Redis key prefix of the test's own."""
    return f"tollgate-test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture(autouse=True)
def _clear_upstream(upstream: Upstream) -> None:
    upstream.recorder.clear()
