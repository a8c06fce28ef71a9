"""`tollgate sandbox run` end to end: a real network namespace, a real uid drop, the real door.

The sandboxed probes run under the system's /usr/bin/python3 (the test virtualenv lives under
/root, which the sandbox user cannot enter, as it should be).
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ALICE, PROVIDER_KEY, ROOT, Gateway, base_config
from tests.https_upstream import Origin, make_test_pki
from tests.upstream import free_port, wait_until

UID = 64123  # no passwd entry: the sandbox gives it a group of the same number
PY = "/usr/bin/python3"
SECRET = "ghp_sandboxInjectedSecret0123456789"


def _refusal() -> str | None:
    if os.geteuid() != 0:
        return "the sandbox tests run tollgate sandbox as root (setuid to a test uid)"
    if not os.access(PY, os.X_OK):
        return f"{PY} is missing: the sandboxed probes need a Python the sandbox user can run"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"the kernel refuses network namespaces here: {probe.stderr.strip()}"
    return None


REFUSAL = _refusal()
pytestmark = pytest.mark.skipif(REFUSAL is not None, reason=REFUSAL or "")


def _public_dir() -> Path:
    """A directory the sandbox user can traverse (pytest's own tmp directories are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="tg-sbx-test-"))
    path.chmod(0o755)
    return path


@pytest.fixture
def public_dir() -> Iterator[Path]:
    path = _public_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    return make_test_pki(tmp_path_factory.mktemp("pki"), ["api.test", "other.test"])


@pytest.fixture(scope="module")
def origin(pki) -> Iterator[Origin]:
    o = Origin(pki[1]).start()
    yield o
    o.stop()


def sandbox_config(upstream_url: str, origin: Origin, ca_bundle: Path, sock: Path) -> dict:
    config = base_config(upstream_url, free_port(), free_port())
    config["listeners"]["egress_unix"] = str(sock)
    config["limits"]["upstream_read_timeout_s"] = 5.0
    config["providers"][0]["models"].append({"name": "slow-2500"})
    config["secrets"] = {"github": SECRET}
    config["egress"] = {"upstream_ca_bundle": str(ca_bundle), "resolve": {"api.test": ["127.0.0.1"]}}
    config["orgs"][0]["egress"] = {
        "rules": [
            {"name": "api", "hosts": ["api.test"], "ports": [origin.port], "mode": "intercept", "allow_private": True,
             "inject": {"Authorization": "Bearer {secret:github}"}},
        ]
    }  # fmt: skip
    return config


def _start_gateway(upstream, origin: Origin, pki) -> Gateway:
    home = _public_dir()
    gw = Gateway(home, sandbox_config(upstream.base_url, origin, pki[0], home / "egress.sock"))
    gw.config_path.chmod(0o600)  # as an operator keeps it: it holds token hashes and secrets
    return gw.start()


@pytest.fixture(scope="module")
def gw(upstream, origin: Origin, pki) -> Iterator[Gateway]:
    g = _start_gateway(upstream, origin, pki)
    yield g
    g.stop()
    shutil.rmtree(g.workdir, ignore_errors=True)


def sandbox_cmd(gw: Gateway, *cmd: str, options: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "gateway", "sandbox", "run", "--agent", "alice", "--config", str(gw.config_path),
            "--user", str(UID), *options, "--", *cmd]  # fmt: skip


def runner_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TOLLGATE_AGENT_TOKEN": ALICE, **extra}


def run_sandbox(
    gw: Gateway, *cmd: str, options: tuple[str, ...] = (), timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(sandbox_cmd(gw, *cmd, options=options), env=runner_env(), capture_output=True, text=True,
                          timeout=timeout, cwd=gw.workdir)  # fmt: skip


def host_addresses() -> list[str]:
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    return [a["local"] for i in json.loads(out) for a in i["addr_info"] if a.get("scope") == "global"]


class UdpEcho:
    """A DNS-shaped UDP responder on the host's loopback: it answers whatever reaches it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            self.received += 1
            self.sock.sendto(data, peer)


PROBE = r"""
import json, os, socket, ssl, sys, urllib.request, urllib.error
args = json.loads(sys.argv[1])
out = {}
def attempt(name, fn):
    try:
        out[name] = ["ok", fn()]
    except Exception as e:
        out[name] = [type(e).__name__, str(e)[:200]]
def tcp(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect((host, port))
        return "connected"
for i, (host, port) in enumerate(args["tcp"]):
    attempt(f"tcp{i}", lambda: tcp(host, port))
def dns():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
        s.sendto(query, ("127.0.0.1", args["dns_port"]))
        return s.recv(512).hex()
attempt("dns", dns)
def udp6():
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"x", ("2001:db8::1", 53))
        return s.recv(10).hex()
attempt("udp6", udp6)
attempt("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close())
attempt("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close())
attempt("config", lambda: open(args["config"]).read())
attempt("config_dir", lambda: sorted(os.listdir(os.path.dirname(args["config"]))))
def unix(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        return "connected"
attempt("run_sock", lambda: unix(args["run_sock"]))
out["run"] = sorted(os.listdir("/run"))
def fetch(url, headers={}):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, ""]
attempt("allowed", lambda: fetch(args["allowed"]))
attempt("denied", lambda: fetch(args["denied"]))
attempt("models", lambda: fetch(os.environ["OPENAI_BASE_URL"] + "/models",
                                {"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}))
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
out["ids"] = [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()]
out["no_new_privs"] = status["NoNewPrivs"].strip()
out["cap_eff"] = status["CapEff"].strip()
out["env"] = dict(os.environ)
out["cwd"] = os.getcwd()
out["cwd_owner"] = [os.stat(".").st_uid, os.stat(".").st_gid]
print(json.dumps(out))
"""


def test_the_door_is_the_only_way_out(gw: Gateway, origin: Origin, public_dir: Path) -> None:
    """Direct TCP (v4, v6, loopback or not), DNS, UDP and raw sockets fail; the door works."""
    listeners = []
    targets = [("127.0.0.1", origin.port), ("::1", gw.egress_port)]
    for address in host_addresses():
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        s = socket.create_server((address, 0), family=family)
        listeners.append(s)
        targets.append((address, s.getsockname()[1]))
    dns = UdpEcho()
    # A daemon's socket in /run, open to everyone (as nscd's or PostgreSQL's are).
    run_sock = socket.socket(socket.AF_UNIX)
    run_sock_path = f"/run/tg-sbx-test-{os.getpid()}.sock"
    run_sock.bind(run_sock_path)
    os.chmod(run_sock_path, 0o777)
    run_sock.listen()
    listeners.append(run_sock)
    with socket.socket(socket.AF_UNIX) as control:
        control.connect(run_sock_path)
    # Control: every target and the DNS stand-in answer from the host itself.
    for host, port in targets[:1] + targets[2:]:
        socket.create_connection((host, port), timeout=2).close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"ping", ("127.0.0.1", dns.port))
        assert s.recv(10) == b"ping"
    workdir = public_dir / "work"
    args = {
        "tcp": targets,
        "dns_port": dns.port,
        "config": str(gw.config_path),
        "allowed": f"https://api.test:{origin.port}/repos/x?from=sandbox",
        "denied": f"https://other.test:{origin.port}/",
        "run_sock": run_sock_path,
    }
    origin.seen.clear()
    try:
        done = run_sandbox(gw, PY, "-c", PROBE, json.dumps(args), options=("--workdir", str(workdir)))
    finally:
        for s in listeners:
            s.close()
        os.unlink(run_sock_path)
        dns.sock.close()
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for i, (host, _) in enumerate(targets):
        assert out[f"tcp{i}"][0] in ("ConnectionRefusedError", "OSError"), (host, out[f"tcp{i}"])
    assert out["dns"][0] != "ok" and dns.received == 1  # only the host's control query arrived
    assert out["udp6"][0] == "OSError" and "unreachable" in out["udp6"][1]
    assert out["raw"][0] == "PermissionError" and out["packet"][0] == "PermissionError"
    # Unprivileged: its own uid and group, no supplementary groups, no capabilities, no_new_privs.
    assert out["ids"] == [UID, UID, UID, UID, []]
    assert out["no_new_privs"] == "1" and int(out["cap_eff"], 16) == 0
    assert out["config"][0] == "PermissionError" and out["config_dir"][0] == "ok"
    assert out["run_sock"][0] == "FileNotFoundError" and out["run"] == []  # /run is an empty tmpfs in there
    assert out["cwd"] == str(workdir) and out["cwd_owner"] == [UID, UID]
    # Through the door: the allowed origin answers (credential injected there, not here), others get 403.
    assert out["allowed"] == ["ok", [200, out["allowed"][1][1]]]
    assert json.loads(out["allowed"][1][1])["path"] == "/repos/x?from=sandbox"
    assert origin.seen[-1].headers["authorization"] == f"Bearer {SECRET}"
    assert out["denied"][0] == "URLError" and "403" in out["denied"][1]
    assert out["models"][0] == "ok" and out["models"][1][0] == 200
    env = out["env"]
    text = json.dumps(env)
    for secret in (SECRET, PROVIDER_KEY, "TOLLGATE_AGENT_TOKEN"):
        assert secret not in text
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "PIP_CERT",
                 "GIT_SSL_CAINFO", "AWS_CA_BUNDLE"):  # fmt: skip
        assert env[name] == env["SSL_CERT_FILE"]
    assert (
        env["HTTPS_PROXY"].startswith(f"http://alice:{ALICE}@127.0.0.1:") and env["https_proxy"] == env["HTTPS_PROXY"]
    )
    assert env["OPENAI_BASE_URL"].startswith("http://127.0.0.1:") and env["OPENAI_API_KEY"] == ALICE
    assert set(env) - {"PWD", "SHLVL", "_"} <= {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TERM", "TZ", "NO_PROXY", "no_proxy", "HTTPS_PROXY",
        "HTTP_PROXY", "https_proxy", "http_proxy", "OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL",
        "ANTHROPIC_API_KEY", "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "PIP_CERT", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE",
    }  # fmt: skip
    # Both ends are audited, with the agent, the command's name (not its arguments) and the status.
    assert wait_until(lambda: any(e["action"] == "sandbox_end" for e in gw.audit_events()), 3)
    events = [e for e in gw.audit_events() if e["action"].startswith("sandbox_")]
    start, end = events[-2], events[-1]
    assert (start["action"], end["action"]) == ("sandbox_start", "sandbox_end")
    assert start["request_id"] == end["request_id"] and start["actor_id"] == "alice" and start["org_id"] == "acme"
    assert end["resource"] == "python3" and end["detail"]["exit_status"] == 0 and end["result"] == "allowed"
    assert end["detail"]["connections"] >= 3 and SECRET not in json.dumps(events) and ALICE not in json.dumps(events)


CLIENTS = r"""
pip="python3 -m pip download --no-deps --no-cache-dir --disable-pip-version-check --retries 0 --timeout 5 -d dl"
curl -sS -o /dev/null -w 'curl-allowed %{http_code}\n' "https://api.test:$1/repos/curl"
echo "curl-denied $(curl -sS "https://other.test:$1/" 2>&1)"
git ls-remote "https://api.test:$1/repos/git.git" >/dev/null 2>&1
echo "git-denied $(git ls-remote "https://other.test:$1/git.git" 2>&1 | grep -o 'response 403')"
$pip --index-url "https://api.test:$1/repos/simple/" tollgate-probe >/dev/null 2>&1
echo "pip-denied $($pip -vvv --index-url "https://other.test:$1/simple/" tollgate-probe 2>&1 | grep -o 'failed: 403')"
"""


def test_curl_git_and_pip_go_through_the_door(gw: Gateway, origin: Origin) -> None:
    origin.seen.clear()
    done = run_sandbox(gw, "sh", "-c", CLIENTS, "sh", str(origin.port))
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.strip().splitlines() if " " in line)
    assert lines["curl-allowed"] == "200"
    assert lines["curl-denied"] == "curl: (56) CONNECT tunnel failed, response 403"
    assert lines["git-denied"] == "response 403"
    assert lines["pip-denied"] == "failed: 403"
    paths = [s.path for s in origin.seen]
    assert "/repos/curl" in paths
    assert "/repos/git.git/info/refs?service=git-upload-pack" in paths  # git went through (and found no repo)
    assert "/repos/simple/tollgate-probe/" in paths  # so did pip
    assert all(s.headers["authorization"] == f"Bearer {SECRET}" for s in origin.seen)


def test_exit_status_passes_through_and_errors_are_one_line(gw: Gateway) -> None:
    assert run_sandbox(gw, "sh", "-c", "exit 7").returncode == 7
    missing = run_sandbox(gw, "no-such-command-here")
    assert missing.returncode == 127 and "no-such-command-here" in missing.stderr
    unknown = subprocess.run(
        [*sandbox_cmd(gw, "true")[:5], "--agent", "mallory", *sandbox_cmd(gw, "true")[7:]],
        env=runner_env(), capture_output=True, text=True, timeout=30, cwd=gw.workdir,
    )  # fmt: skip
    assert unknown.returncode == 125 and unknown.stderr.strip() == (
        f"tollgate sandbox: unknown agent 'mallory': no such agent in {gw.config_path}"
    )
    port = free_port()
    base = [sys.executable, "-m", "gateway", "sandbox", "run", "--agent", "alice", "--user", str(UID)]
    down = subprocess.run([*base, "--proxy", f"http://127.0.0.1:{port}", "--", "true"], env=runner_env(),
                          capture_output=True, text=True, timeout=30, cwd=gw.workdir)  # fmt: skip
    assert down.returncode == 125 and len(down.stderr.strip().splitlines()) == 1
    assert f"the egress door at 127.0.0.1:{port} is unreachable" in down.stderr
    sock = gw.config["listeners"]["egress_unix"]
    bad = subprocess.run([*base, "--proxy", f"unix:{sock}", "--", "true"], capture_output=True, text=True, timeout=30,
                         cwd=gw.workdir,
                         env=runner_env(TOLLGATE_AGENT_TOKEN="tg-not-a-valid-token"))  # fmt: skip
    assert bad.returncode == 125 and "refused agent alice's token" in bad.stderr


def test_a_key_file_the_sandbox_user_can_read_is_warned_of_and_env_names_pass_values(gw: Gateway) -> None:
    key_file = gw.workdir / "master.key"
    key_file.write_text("not a real key, only its file mode matters here\n")
    key_file.chmod(0o644)
    env = runner_env(TOLLGATE_MASTER_KEY=str(key_file), PASSED_ON="from-the-caller")
    cmd = sandbox_cmd(gw, "sh", "-c", 'echo "$PASSED_ON"', options=("--env", "PASSED_ON"))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=gw.workdir)
    assert out.returncode == 0 and out.stdout.strip() == "from-the-caller"
    assert f"warning: {key_file} is readable by uid {UID}; chmod 600 it" in out.stderr
    key_file.chmod(0o600)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=gw.workdir)
    assert out.returncode == 0 and "warning" not in out.stderr


def test_idle_timeout_ends_the_sandbox_but_traffic_keeps_it(gw: Gateway) -> None:
    began = time.monotonic()
    idle = run_sandbox(gw, "sleep", "30", options=("--idle-timeout", "1s"))
    took = time.monotonic() - began
    assert idle.returncode == 128 + signal.SIGTERM and "idle" in idle.stderr
    assert took < 10
    # Answers that come late are not idleness: each request waits 2.5 s for the provider, longer
    # than the 2 s idle timeout, and the sandbox lives on.
    slow = r"""
import json, os, time, urllib.request
for _ in range(2):
    body = json.dumps({"model": "slow-2500", "messages": [{"role": "user", "content": "hi"}]}).encode()
    req = urllib.request.Request(os.environ["OPENAI_BASE_URL"] + "/chat/completions", body,
        {"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"], "Content-Type": "application/json"})
    assert urllib.request.urlopen(req, timeout=10).status == 200
    time.sleep(0.2)
"""
    kept = run_sandbox(gw, PY, "-c", slow, options=("--idle-timeout", "2s"))
    assert kept.returncode == 0, kept.stderr


def test_revocation_and_sigterm_end_the_sandbox(upstream, origin: Origin, pki) -> None:
    gw = _start_gateway(upstream, origin, pki)
    try:
        term = subprocess.Popen(sandbox_cmd(gw, "sleep", "30"), env=runner_env(), stderr=subprocess.PIPE, text=True,
                                cwd=gw.workdir)  # fmt: skip
        polled = subprocess.Popen(sandbox_cmd(gw, "sleep", "30", options=("--check-interval", "0.3s")),
                                  env=runner_env(), stderr=subprocess.PIPE, text=True, cwd=gw.workdir)  # fmt: skip
        signalled = subprocess.Popen(sandbox_cmd(gw, "sleep", "30", options=("--check-interval", "1h")),
                                     env=runner_env(), stderr=subprocess.PIPE, text=True, cwd=gw.workdir)  # fmt: skip
        wait_until(lambda: len([e for e in gw.audit_events() if e["action"] == "sandbox_start"]) == 3, 10)
        term.send_signal(signal.SIGTERM)
        assert term.wait(10) == 128 + signal.SIGTERM
        # Revoke alice's token: the polling sandbox notices within its interval.
        config = gw.config
        config["orgs"][0]["teams"][0]["agents"][0]["tokens"] = []
        gw.write_config(config)
        gw.signal(signal.SIGHUP)
        began = time.monotonic()
        assert polled.wait(10) == 128 + signal.SIGTERM
        assert time.monotonic() - began < 5
        assert "revoked" in polled.stderr.read()
        # The one checking hourly is told at once by SIGUSR1 (an operator's or an orchestrator's nudge).
        assert signalled.poll() is None
        signalled.send_signal(signal.SIGUSR1)
        assert signalled.wait(10) == 128 + signal.SIGTERM
        assert wait_until(lambda: len([e for e in gw.audit_events() if e["action"] == "sandbox_end"]) == 3, 3)
        ends = [e for e in gw.audit_events() if e["action"] == "sandbox_end"]
        reasons = sorted((e["detail"]["reason"], e["result"]) for e in ends)
        assert reasons == [("received SIGTERM", "error"), ("revoked", "denied"), ("revoked", "denied")]
    finally:
        for p in (term, polled, signalled):
            if p.poll() is None:
                p.kill()
        gw.stop()
        shutil.rmtree(gw.workdir, ignore_errors=True)


def test_the_command_dies_with_its_supervisor(gw: Gateway, public_dir: Path) -> None:
    workdir = public_dir / "work"
    cmd = sandbox_cmd(gw, "sh", "-c", "echo $$ > pid; exec sleep 30", options=("--workdir", str(workdir)))
    runner = subprocess.Popen(cmd, env=runner_env(), cwd=gw.workdir)
    try:
        assert wait_until(lambda: (workdir / "pid").exists() and (workdir / "pid").read_text().strip(), 10)
        pid = int((workdir / "pid").read_text())
        assert Path(f"/proc/{pid}").exists()
        runner.kill()  # no chance to clean up: the kernel ends the command (PR_SET_PDEATHSIG)
        runner.wait(5)
        assert wait_until(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid), 5)
    finally:
        if runner.poll() is None:
            runner.kill()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].splitlines()[0]
    except (OSError, IndexError):
        return "zombie"


NOT_ROOT = 65534


def test_without_root_a_user_namespace_confines_the_caller(gw: Gateway, origin: Origin) -> None:
    """Run by an unprivileged user (only the standard library needed: the system Python runs it)."""
    if not all(os.access(p, os.R_OK | os.X_OK) for p in (ROOT, *ROOT.parents)):
        pytest.skip(f"{ROOT} is not readable by other users, so an unprivileged runner cannot import tollgate")
    check = subprocess.run(["setpriv", f"--reuid={NOT_ROOT}", f"--regid={NOT_ROOT}", "--clear-groups", "unshare",
                            "--user", "--net", "true"], capture_output=True, text=True, check=False)  # fmt: skip
    if check.returncode != 0:
        pytest.skip(f"the kernel refuses unprivileged user namespaces here: {check.stderr.strip()}")
    llm_port = gw.config["listeners"]["llm"]["port"]
    base = ["setpriv", f"--reuid={NOT_ROOT}", f"--regid={NOT_ROOT}", "--clear-groups", PY, "-m", "gateway", "sandbox",
            "run", "--agent", "alice", "--proxy", f"http://127.0.0.1:{gw.egress_port}"]  # fmt: skip
    args = {
        "tcp": [["127.0.0.1", origin.port]],
        "dns_port": 9,
        "config": str(gw.config_path),
        "allowed": f"https://api.test:{origin.port}/repos/unprivileged",
        "denied": f"https://other.test:{origin.port}/",
        "run_sock": "/run/none.sock",
    }
    done = subprocess.run([*base, "--llm", f"http://127.0.0.1:{llm_port}", "--", PY, "-c", PROBE, json.dumps(args)],
                          env=runner_env(), capture_output=True, text=True, timeout=60, cwd="/tmp")  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ids"][:4] == [NOT_ROOT] * 4 and out["no_new_privs"] == "1" and int(out["cap_eff"], 16) == 0
    assert out["tcp0"][0] == "ConnectionRefusedError" and out["raw"][0] == "PermissionError" and out["run"] == []
    assert out["allowed"][0] == "ok" and out["allowed"][1][0] == 200
    assert out["denied"][0] == "URLError" and "403" in out["denied"][1]
    assert out["models"][0] == "ok" and out["models"][1][0] == 200
    refused = subprocess.run([*base, "--user", "nobody", "--", "true"], env=runner_env(), capture_output=True,
                             text=True, timeout=30, cwd="/tmp")  # fmt: skip
    assert refused.returncode == 125 and refused.stderr.strip() == (
        "tollgate sandbox: --user needs root (without root the command runs as yourself, in a user namespace)"
    )


def test_egress_unix_listener_serves_every_worker_and_is_removed_at_exit(upstream, public_dir: Path) -> None:
    home = _public_dir()
    sock = home / "egress.sock"
    config = base_config(upstream.base_url, free_port(), free_port())
    config["listeners"]["egress_unix"] = str(sock)
    gw = Gateway(home, config, workers=2).start()
    try:
        auth = "Proxy-Authorization: Basic " + base64.b64encode(f"alice:{ALICE}".encode()).decode()
        for _ in range(4):
            who = subprocess.run(["curl", "-sS", "--unix-socket", str(sock), "-H", auth, "http://tollgate/whoami"],
                                 capture_output=True, text=True, timeout=10, check=True)  # fmt: skip
            assert who.stdout == "alice"
        refused = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", str(sock),
                                  "http://tollgate/whoami"], capture_output=True, text=True, timeout=10)  # fmt: skip
        assert refused.stdout == "407"
        # A second appliance may not take a live socket over.
        second = Gateway(public_dir, {**config, "listeners": {**config["listeners"], "llm": {"port": free_port()},
                                                                  "admin": {"port": free_port()}}})  # fmt: skip
        with pytest.raises(RuntimeError, match=f"cannot listen on unix:{sock}: another process is listening there"):
            second.start()
    finally:
        assert gw.stop() == 0
        shutil.rmtree(home, ignore_errors=True)
    assert not sock.exists()


def test_an_interactive_command_gets_the_terminal(gw: Gateway) -> None:
    """Under a terminal the command's process group is the foreground one (job control works)."""
    if shutil.which("script") is None:
        pytest.skip("no `script` (util-linux) to provide a terminal")
    inner = shlex.join(sandbox_cmd(gw, "sh", "-c", "ps -o stat= -p $$"))
    done = subprocess.run(["script", "-qec", inner, "/dev/null"], env=runner_env(), capture_output=True, text=True,
                          timeout=60, cwd=gw.workdir, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "+" in done.stdout.strip().splitlines()[-1]  # `+`: in the terminal's foreground process group


# Runs argv as uid 65534 inside a user namespace whose limit for further user namespaces is 0.
NO_USERNS = r"""
import os, sys
from gateway.sandbox import kernel
ready, mapped = os.pipe(), os.pipe()
pid = os.fork()
if pid == 0:
    kernel.unshare(kernel.CLONE_NEWUSER)
    os.write(ready[1], b"x")
    os.read(mapped[0], 1)
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
    os.execvp(sys.argv[1], sys.argv[1:])
os.read(ready[0], 1)
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{pid}/{name}", "w") as f:
        f.write("0 0 65536")
os.write(mapped[1], b"x")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_without_root_and_without_user_namespaces_the_error_says_so(gw: Gateway) -> None:
    if not all(os.access(p, os.R_OK | os.X_OK) for p in (ROOT, *ROOT.parents)):
        pytest.skip(f"{ROOT} is not readable by other users, so an unprivileged runner cannot import tollgate")
    runner = [PY, "-m", "gateway", "sandbox", "run", "--agent", "alice", "--proxy", f"http://127.0.0.1:{gw.egress_port}",
              "--", "true"]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", NO_USERNS, *runner], env=runner_env(), capture_output=True, text=True,
                          timeout=60, cwd="/tmp")  # fmt: skip
    if "max_user_namespaces" in done.stderr:
        pytest.skip(f"cannot lower the user namespace limit here: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 125
    assert done.stderr.strip() == (
        "tollgate sandbox: not root and no user namespaces (unshare: No space left on device): "
        "run as root or enable unprivileged user namespaces"
    )
