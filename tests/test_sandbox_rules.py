"""`tollgate sandbox rules`: applied in a fresh network namespace, a uid reaches only the proxy."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT

UID = 64124
PROXY, LLM, OTHER = 3128, 8080, 4000


def _refusal() -> str | None:
    if os.geteuid() != 0:
        return "applying nftables rules in a network namespace needs root"
    if shutil.which("nft") is None:
        return "no nft binary (Debian package nftables; .ci/services.sh installs it)"
    name = "tg-probe-" + secrets.token_hex(3)
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"the kernel refuses a new network namespace: {made.stderr.strip()}"
    try:
        listed = subprocess.run(["ip", "netns", "exec", name, "nft", "list", "ruleset"], capture_output=True,
                                text=True, check=False)  # fmt: skip
        return None if listed.returncode == 0 else f"nftables is unavailable here: {listed.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


REFUSAL = _refusal()
pytestmark = pytest.mark.skipif(REFUSAL is not None, reason=REFUSAL or "")


@pytest.fixture
def netns() -> Iterator[str]:
    name = "tg-rules-" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=False)


def tollgate(netns: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-m", "gateway", "sandbox", "rules", *args],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, input=stdin, capture_output=True, text=True,
                          check=False)  # fmt: skip


# Listens (as root) on the proxy, LLM and another port, v4 and v6, then tries each as `uid`
# and as root; UDP (a DNS query) too.
PROBE = r"""
import json, os, socket, sys
uid, ports = int(sys.argv[1]), [int(p) for p in sys.argv[2:]]
servers = [socket.create_server((h, p), family=f) for p in ports
           for h, f in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6))]
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return type(e).__name__
def tcp(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(2)
        s.connect((host, port))
def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01", ("127.0.0.1", 53))
def run_all():
    out = {f"{h}:{p}": attempt(lambda: tcp(h, p)) for p in ports for h in ("127.0.0.1", "::1")}
    out["udp"] = attempt(udp)
    return out
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    os.write(write, json.dumps(run_all()).encode())
    os._exit(0)
os.waitpid(pid, 0)
os.close(write)
print(json.dumps({"uid": json.loads(os.read(read, 65536)), "root": run_all()}))
"""


def probe(netns: str) -> dict:
    done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", PROBE, str(UID), str(PROXY), str(LLM),
                           str(OTHER)], capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout)


def test_rules_let_the_uid_reach_only_the_doors(netns: str) -> None:
    before = probe(netns)
    assert set(before["uid"].values()) == {"ok"}  # nothing confines the uid yet
    rules = tollgate(netns, "--uid", str(UID), "--proxy-port", str(PROXY), "--llm-port", str(LLM))
    assert rules.returncode == 0
    assert "ip6 daddr ::1 tcp dport 3128 accept" in rules.stdout
    applied = subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=rules.stdout, text=True,
                             capture_output=True, check=False)  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    # Re-applying the same script is harmless (it replaces the table).
    again = subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=rules.stdout, text=True,
                           capture_output=True, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr
    after = probe(netns)
    for host in ("127.0.0.1", "::1"):
        assert after["uid"][f"{host}:{PROXY}"] == "ok" and after["uid"][f"{host}:{LLM}"] == "ok"
        assert after["uid"][f"{host}:{OTHER}"] == "ConnectionRefusedError"
    assert after["uid"]["udp"] == "PermissionError"
    assert set(after["root"].values()) == {"ok"}  # other users are untouched
    check = tollgate(netns, "--uid", str(UID), "--proxy-port", str(PROXY), "--llm-port", str(LLM), "--check")
    assert check.returncode == 0 and check.stdout.startswith(f"OK: table inet tollgate_sandbox_{UID}")
    # The check tells a different set of ports apart, naming the first difference.
    wider = tollgate(netns, "--uid", str(UID), "--proxy-port", str(PROXY), "--check")
    assert wider.returncode == 1 and "is not the expected one: line 6" in wider.stderr
    assert len(wider.stderr.strip().splitlines()) == 1


def test_check_without_rules_says_what_is_missing(netns: str) -> None:
    check = tollgate(netns, "--uid", str(UID), "--check")
    assert check.returncode == 1
    assert check.stderr.strip() == (
        f"tollgate sandbox rules: no table inet tollgate_sandbox_{UID} is loaded "
        f"(apply: tollgate sandbox rules --uid {UID} ... | nft -f -)"
    )
