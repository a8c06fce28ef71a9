"""What the benchmark wrappers (bench_llm.py, bench_egress.py) share: tollgate's command and
source (working tree or a `git archive` snapshot), config checks, running a peer harness with its
output teed to <out>/run.log, number formatting, the fixed-width terminal table, and the audit
and log summaries of the gateways measured. Stdlib only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_BENCH = REPO.parent / "shared" / "bench"
RESULTS = REPO / "loadtests" / "results"


# ------------------------------------------------------------------ small helpers
def token_hash(token: str) -> str:
    """How the config stores an agent token: `sha256:` + hex SHA-256."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def port_free(port: int) -> bool:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_near(port: int, offset: int) -> int:
    """`port + offset` when it is valid and free, else any free port (for the listeners not measured)."""
    p = port + offset
    return p if p <= 65535 and port_free(p) else free_port()


# ------------------------------------------------------------------ tollgate itself
def tollgate_command() -> list[str]:
    exe = Path(sys.executable).parent / "tollgate"
    if exe.exists():
        return [str(exe)]
    venv = REPO / ".venv" / "bin" / "tollgate"
    if venv.exists():
        return [str(venv)]
    return [sys.executable, "-m", "gateway"]


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()


def tollgate_source(out: Path, ref: str | None) -> tuple[Path, str]:
    """(source dir, version text): the working tree, or a `git archive` snapshot of REF under <out>."""
    if not ref:
        try:
            v = git("describe", "--always", "--dirty")
        except (OSError, subprocess.CalledProcessError):
            v = "unknown"
        return REPO, f"tollgate working tree {v} ({REPO})"
    try:
        sha = git("rev-parse", "--verify", ref + "^{commit}")
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"--git-ref {ref}: {e.stderr.strip()}") from None
    src = out / f"src-{sha[:10]}"
    if not (src / "gateway").is_dir():
        src.mkdir(parents=True, exist_ok=True)
        archive = subprocess.Popen(["git", "-C", str(REPO), "archive", sha], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(src)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise SystemExit(f"git archive {sha} failed")
    return src, f"tollgate {sha[:10]} ({ref}, git archive snapshot)"


def tollgate_env(src: Path) -> dict[str, str]:
    # PYTHONPATH wins over the editable install's finder: --git-ref snapshots run as such
    return {"PYTHONPATH": str(src), "PYTHONUNBUFFERED": "1"}


def check_config(text: str, probe: Path, src: Path) -> None:
    """Validate a generated config with tollgate itself before spending minutes on baselines."""
    probe.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(src))
    r = subprocess.run(
        [*tollgate_command(), "check-config", str(probe)], capture_output=True, text=True, cwd=src, env=env
    )
    probe.unlink()
    if r.returncode != 0:
        print(r.stdout + r.stderr, file=sys.stderr)
        raise SystemExit("generated tollgate config is invalid (see above)")


# ------------------------------------------------------------------ running the peer harness
def run_logged(cmd: list[str], out: Path) -> int:
    """Run the harness in <out>; its progress goes to the terminal and to <out>/run.log."""
    print("+ " + shlex.join(cmd), file=sys.stderr, flush=True)
    with open(out / "run.log", "ab") as logf:
        p = subprocess.Popen(cmd, cwd=out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert p.stdout is not None
        for line in p.stdout:
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
            logf.write(line)
        return p.wait()


# ------------------------------------------------------------------ report helpers
def fmt(v, spec=".2f", sign=False):
    if v is None or v == "-":
        return "-"
    if isinstance(v, (int, float)):
        return format(v, ("+" if sign else "") + spec)
    return str(v)


def fmt_rps(v):
    if v is None:
        return "-"
    return f"{v / 1000:.1f}k" if v >= 10000 else f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def print_table(head: str, rows: list[str], numeric: range) -> None:
    """A Markdown table (header line + rows) as fixed-width text; `numeric` columns right-aligned."""
    cols = [c.strip() for c in head.strip().strip("|").split("|")]
    table = [cols] + [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
    width = [max(len(row[i]) if i < len(row) else 0 for row in table) for i in range(len(cols))]
    for i, row in enumerate(table):
        padded = [row[j] if j < len(row) else "" for j in range(len(cols))]
        cells = [c.rjust(width[j]) if j in numeric else c.ljust(width[j]) for j, c in enumerate(padded)]
        print("  ".join(cells).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in width))


def audit_stats(path: Path, name: str) -> str | None:
    """`name: N audit events (size): action:result:status counts` of a local audit sink file."""
    if not path.exists():
        return None
    n, by = 0, {}
    with open(path, "rb") as f:
        for line in f:
            n += 1
            try:
                e = json.loads(line)
            except ValueError:
                by["unparsable"] = by.get("unparsable", 0) + 1
                continue
            key = f"{e.get('action')}:{e.get('result')}:{e.get('status')}"
            by[key] = by.get(key, 0) + 1
    size = path.stat().st_size
    parts = ", ".join(f"{k} {v}" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))
    return f"{name}: {n} audit events ({size / 2**20:.1f} MiB): {parts}"


def log_findings(path: Path, name: str) -> str | None:
    """ERROR/CRITICAL lines and tracebacks in a gateway log, with the commonest exception lines."""
    if not path.exists():
        return None
    text = path.read_text(errors="replace")
    n_err = sum(1 for ln in text.splitlines() if " ERROR " in ln or " CRITICAL " in ln)
    n_tb = text.count("Traceback (most recent call last)")
    if not n_err and not n_tb:
        return None
    first = next((ln for ln in text.splitlines() if " ERROR " in ln), "")
    kinds: dict[str, int] = {}
    for ln in text.splitlines():  # the exception lines that end tracebacks
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b", ln):
            kinds[ln[:160]] = kinds.get(ln[:160], 0) + 1
    what = "; ".join(f"{n}x {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:3])
    return f"{name} log: {n_err} ERROR lines, {n_tb} tracebacks: {what or first[:160]}"


def add_common_options(ap: argparse.ArgumentParser, harness: Path, out_default: str, audit_files: str) -> None:
    """The options both benchmark wrappers take, spelled the same in both."""
    ap.add_argument("--harness", type=Path, default=harness, help="peer harness dir (default %(default)s)")
    ap.add_argument("--out", type=Path, help=f"output dir (default {out_default})")
    ap.add_argument("--pin", help="pinned,unpinned (default both; --quick: unpinned)")
    ap.add_argument(
        "--git-ref", help="measure this commit (a `git archive` snapshot under <out>) instead of the working tree"
    )
    ap.add_argument(
        "--baseline-ref",
        help="also measure this commit as `tollgate-base` (1 worker, a `git archive` snapshot) in the same run",
    )
    ap.add_argument("--audit", choices=["local", "none"], default="local", help="tollgate audit sink (default local)")
    ap.add_argument("--keep-audit", action="store_true", help=f"keep <out>/{audit_files} (deleted after counting)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--report-only", action="store_true", help="only (re)print the report of an existing --out")
