#!/usr/bin/env python3
"""Benchmark tollgate's LLM door against a fast mock upstream and LiteLLM, in the same run.

Drives the peer harness (../shared/bench/run_bench.py: mock upstream, direct baseline, wrk,
CPU accounting, functional checks) with four gateways: `tollgate` (1 worker), `tollgate-w2`
(2 workers) and the harness's LiteLLM entries (`litellm`, `litellm-w2`) as the reference.
Then it reads the harness's summary.json, prints a compact table with the issue's targets
and writes it as Markdown to <out>/tollgate_summary.md. Everything stays on 127.0.0.1.

    .venv/bin/python loadtests/bench_llm.py --quick                 # ~2 min smoke run
    .venv/bin/python loadtests/bench_llm.py --pin unpinned          # full cases, one pin mode
    .venv/bin/python loadtests/bench_llm.py --only tollgate,litellm --rounds 3
    .venv/bin/python loadtests/bench_llm.py --budget --rounds 2      # Redis budget store on vs. off
    .venv/bin/python loadtests/bench_llm.py --protocols             # /v1/responses, /v1/messages vs chat

Options not listed by --help are passed on to run_bench.py unchanged (e.g. --repeat 2,
--no-direct, --chunk-delay-ms 5, --quiet-pct 0). Needs `wrk` and the harness's venvs
(`bash ../shared/bench/setup.sh`). Stdlib only.

Targets checked (from the issue): added latency at concurrency 1 p50 <= 0.5 ms and
p99 <= 2 ms; gateway CPU <= 0.3 ms per proxied request; at concurrency 64 with 2 workers
>= 25x the req/s of the best LiteLLM variant measured in the same run.

--budget runs `tollgate` / `tollgate-budget` and `tollgate-w2` / `tollgate-budget-w2` in the same run:
the same config, plus budgets at org, team and agent level (never reached) kept in Redis
(127.0.0.1:6379, keys under a per-run `tollgate-bench-<random>-<entry>:` prefix, deleted afterwards).
Targets: the Redis budget path adds <= 0.3 ms p50 at concurrency 1 and costs <= 15% req/s at
16/64 connections. Report: <out>/tollgate_budget_summary.md (+ budget_check.json).

--protocols needs neither wrk nor the harness (see loadtests/_protocols.py): added latency at one
connection and CPU per request of /v1/responses and /v1/messages against /v1/chat/completions,
interleaved in one run; target: within 20% of the chat route's. Report: <out>/protocols_summary.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import _protocols
from _harness import (
    RESULTS,
    SHARED_BENCH,
    add_common_options,
    audit_stats,
    fmt,
    fmt_rps,
    log_findings,
    port_near,
    print_table,
    run_logged,
    token_hash,
    tollgate_command,
    tollgate_env,
    tollgate_source,
)
from _harness import check_config as check_generated_config

DEFAULT_HARNESS = SHARED_BENCH
SETUP_HINT = "bash ../shared/bench/setup.sh"
ANCHOR_MOCK = Path("/tmp/anchors/mock/bin/python")
ANCHOR_LITELLM = Path("/tmp/anchors/litellm/bin/litellm")

MASTER_KEY = "sk-bench-1234"
DEFAULT_CASES = "chat:1,chat:16,chat:64,stream:1,stream:16,stream:64,embed:16"
QUICK_CASES = "chat:1:3,chat:16:3,chat:64:3,stream:16:3"
TOLLGATE_WORKERS = {"tollgate": 1, "tollgate-w2": 2}
# name -> workers of the Redis-budget twins; --budget runs each right after its budget-off twin
BUDGET_WORKERS = {"tollgate-budget": 1, "tollgate-budget-w2": 2}
BUDGET_PAIRS = (("tollgate", "tollgate-budget"), ("tollgate-w2", "tollgate-budget-w2"))
BASELINE = "tollgate-base"  # --baseline-ref: the same 1-worker setup from another commit
BUDGET_CASES = "chat:1,chat:16,chat:64,stream:16"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
# (level, period, USD): never reached, so every request is reserved and settled and none refused.
BUDGET_LIMITS = {"org": ("monthly_usd", 90_000.0), "team": ("daily_usd", 50_000.0), "agent": ("total_usd", 80_000.0)}

# the issue's targets
ADDED_P50_MS = 0.5
ADDED_P99_MS = 2.0
CPU_MS_PER_REQ = 0.3
LITELLM_FACTOR_C64 = 25.0
BUDGET_ADDED_P50_MS = 0.3  # Redis budget path, at concurrency 1
BUDGET_RPS_DROP_PCT = 15.0  # Redis budget path, at 16/64 connections


# ------------------------------------------------------------------ config for one tollgate instance
def config_yaml(
    port: int, admin_port: int, upstream: str, key: str, audit: str, audit_path: str, budget_prefix: str | None = None
) -> str:
    if not upstream.startswith(("http://127.", "http://localhost")):
        raise SystemExit(f"upstream must be on loopback, got {upstream!r}")
    q = json.dumps  # a JSON string is a valid YAML scalar
    audit_block = f"  sink: local\n  path: {q(audit_path)}\n" if audit == "local" else "  sink: none\n"
    org_b = team_b = agent_b = store = ""
    if budget_prefix is not None:  # budgets at every level, in Redis; the limits are never reached
        org_b, team_b, agent_b = (
            f"\n{' ' * indent}budget: {{{BUDGET_LIMITS[level][0]}: {BUDGET_LIMITS[level][1]:.1f}}}"
            for level, indent in (("org", 4), ("team", 8), ("agent", 12))
        )
        store = f"budget: {{store: redis, redis_url: {q(REDIS_URL)}, key_prefix: {q(budget_prefix)}}}\n"
    return f"""\
# Generated by loadtests/bench_llm.py for the LLM gateway benchmark (loopback only).
# Token: the harness's master key {key!r}, stored as its SHA-256 like any agent token.
listeners:
  llm: {{host: 127.0.0.1, port: {port}}}
  admin: {{host: 127.0.0.1, port: {admin_port}}}
limits:
  shutdown_grace_s: 5
providers:
  - name: bench-mock
    kind: openai
    base_url: {q(upstream)}
    api_key: "sk-upstream"
    models:
      - {{name: mock-gpt, input_usd_per_1m: 2.50, output_usd_per_1m: 10.00}}
      - {{name: mock-embed, kind: embedding, input_usd_per_1m: 0.02}}
orgs:
  - id: bench-org{org_b}
    teams:
      - id: bench-team{team_b}
        agents:
          - id: bench-agent{agent_b}
            tokens: [{q(token_hash(key))}]
{store}audit:
{audit_block}"""


def write_config_main(argv: list[str]) -> int:
    """`bench_llm.py write-config ...`: run by the gateway command the harness starts."""
    ap = argparse.ArgumentParser(prog="bench_llm.py write-config")
    ap.add_argument("path")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--key", default=MASTER_KEY)
    ap.add_argument("--audit", choices=["local", "none"], default="local")
    ap.add_argument("--audit-path", default="audit.jsonl")
    ap.add_argument("--budget-prefix", help="add org/team/agent budgets kept in Redis under this key prefix")
    a = ap.parse_args(argv)
    admin_port = port_near(a.port, 1000)
    text = config_yaml(a.port, admin_port, a.upstream, a.key, a.audit, a.audit_path, a.budget_prefix)
    Path(a.path).write_text(text)
    return 0


# ------------------------------------------------------------------ setup
def gateway_entries(
    out: Path,
    harness: Path,
    audit: str,
    src: Path,
    version: str,
    prefixes: dict[str, str],
    base: tuple[Path, str] | None = None,
) -> list[dict]:
    """tollgate entries (budget-off twin first, then its Redis-budget twin), `tollgate-base` with
    `base` (source dir, version: 1 worker of another commit, for before/after), then the harness's others."""
    tg = tollgate_command()
    py = shlex.quote(sys.executable)
    me = shlex.quote(str(Path(__file__).resolve()))
    runs = [
        (name, workers, src, version)
        for off, on in BUDGET_PAIRS
        for name, workers in ((off, TOLLGATE_WORKERS[off]), (on, BUDGET_WORKERS[on]))
    ]
    if base is not None:
        runs.append((BASELINE, 1, *base))
    entries = []
    for name, workers, source, described in runs:
        cfg = out / f"tollgate_{name}.yaml"
        audit_path = out / f"audit_{name}.jsonl"
        budget = f" --budget-prefix {shlex.quote(prefixes[name])}" if name in prefixes else ""
        cmd = (
            f"{py} {me} write-config {shlex.quote(str(cfg))} --port {{port}} --upstream {{upstream}} --key {{key}}"
            f" --audit {audit} --audit-path {shlex.quote(str(audit_path))}{budget}"
            f" && exec {shlex.join(tg)} serve --config {shlex.quote(str(cfg))} --workers {workers}"
        )
        entries.append(
            {
                "name": name,
                "cmd": cmd,
                "cwd": str(source),
                "env": tollgate_env(source),
                "key": MASTER_KEY,
                "model": "mock-gpt",
                "embed_model": "mock-embed",
                "startup_timeout": 60,
                "version_cmd": "echo " + shlex.quote(described),
            }
        )
    with open(harness / "gateways.json") as f:
        data = json.load(f)
    for g in data if isinstance(data, list) else data["gateways"]:
        if g["name"] in TOLLGATE_WORKERS or g["name"] in BUDGET_WORKERS:
            continue
        entries.append(g)
    return entries


def preflight(harness: Path, need_litellm: bool) -> None:
    missing = []
    if shutil.which("wrk") is None:
        missing.append("wrk")
    if not (harness / "run_bench.py").exists():
        missing.append(f"harness {harness}")
    if not ANCHOR_MOCK.exists():
        missing.append(str(ANCHOR_MOCK))
    if need_litellm and not ANCHOR_LITELLM.exists():
        missing.append(str(ANCHOR_LITELLM))
    if missing:
        print(f"missing {', '.join(missing)}: run `{SETUP_HINT}` (or pass --harness DIR)", file=sys.stderr)
        sys.exit(2)


def check_config(out: Path, audit: str, src: Path, budget_prefix: str | None = None) -> None:
    """Validate the generated config with tollgate itself before spending minutes on baselines."""
    text = config_yaml(4000, 5000, "http://127.0.0.1:18000/v1", MASTER_KEY, audit, str(out / "x.jsonl"), budget_prefix)
    check_generated_config(text, out / "tollgate_check.yaml", src)


# ------------------------------------------------------------------ report
def case_order(summary):
    return [c["name"] for c in summary.get("cases", [])]


def best_litellm(summary, pin, case):
    """(name, rps) of the LiteLLM variant with the highest req/s for this pin mode and case."""
    best = None
    for g in summary["gateways"]:
        if not g["name"].startswith("litellm"):
            continue
        r = g.get("runs", {}).get(pin, {}).get(case)
        if r and "error" not in r and r.get("rps") and (best is None or r["rps"] > best[1]):
            best = (g["name"], r["rps"])
    return best


def build_report(summary: dict) -> tuple[list[str], list[str], list[str], bool]:
    """Table rows (Markdown), target lines, problem lines, all targets met."""
    pins = summary["args"]["pin"]
    cases = case_order(summary)
    direct = summary.get("direct", {})
    targets = [("direct", direct, None)] + [(g["name"], g.get("runs", {}), g) for g in summary["gateways"]]
    rows = []
    for name, runs, g in targets:
        if g is not None and g.get("error") and not runs:
            rows.append(f"| {name} | | |" + " - |" * 8 + f" error: {g['error']} |")
            continue
        for pin in pins:
            for cn in cases:
                r = runs.get(pin, {}).get(cn)
                if not r:
                    continue
                if "error" in r:
                    rows.append(f"| {name} | {pin} | {cn} |" + " - |" * 8 + f" error: {r['error']} |")
                    continue
                d = direct.get(pin, {}).get(cn)
                add50 = r["p50_ms"] - d["p50_ms"] if g is not None and d and "error" not in d else None
                add99 = r["p99_ms"] - d["p99_ms"] if g is not None and d and "error" not in d else None
                ref = best_litellm(summary, pin, cn)
                ratio = r["rps"] / ref[1] if ref and g is not None and not name.startswith("litellm") else None
                flag = "(!)" if r.get("interference_warning") else ""
                if r.get("rps_spread_pct") is not None:
                    flag += f" ±{r['rps_spread_pct']:.0f}%"
                rows.append(
                    f"| {name} | {pin} | {cn} | {fmt_rps(r['rps'])} | {fmt(r['p50_ms'], '.3f')} | "
                    f"{fmt(r['p99_ms'], '.3f')} | {fmt(add50, '.3f', True)} | {fmt(add99, '.3f', True)} | "
                    f"{fmt(r.get('gateway_cpu_ms_per_req'), '.3f')} | {r.get('errors', '-')} | "
                    f"{fmt(ratio, '.1f') + 'x' if ratio else '-'} | {flag.strip()} |"
                )

    lines, problems, ok = [], [], True

    def verdict(passed):
        nonlocal ok
        if passed is None:
            return "[ n/a]"
        ok = ok and passed
        return "[PASS]" if passed else "[FAIL]"

    tg = [g for g in summary["gateways"] if g["name"].startswith("tollgate")]
    # 1. added latency at concurrency 1
    for g in tg:
        for pin in pins:
            for cn in cases:
                if not cn.endswith("_c1"):
                    continue
                v = (g.get("vs_direct", {}).get(pin) or {}).get(cn)
                if not v:
                    lines.append(f"{verdict(False)} added latency {g['name']} {pin} {cn}: not measured")
                    continue
                p = v["p50_overhead_ms"] <= ADDED_P50_MS and v["p99_overhead_ms"] <= ADDED_P99_MS
                lines.append(
                    f"{verdict(p)} added latency at 1 connection, {g['name']} {pin} {cn}: "
                    f"p50 {v['p50_overhead_ms']:+.3f} ms (<= {ADDED_P50_MS}), "
                    f"p99 {v['p99_overhead_ms']:+.3f} ms (<= {ADDED_P99_MS})"
                )
    # 2. CPU per proxied request
    for g in tg:
        for pin in pins:
            vals = [
                (r["gateway_cpu_ms_per_req"], cn)
                for cn, r in (g.get("runs", {}).get(pin) or {}).items()
                if not cn.startswith("_") and "gateway_cpu_ms_per_req" in r
            ]
            if not vals:
                continue
            worst = max(vals)
            over = [f"{cn} {v:.3f}" for v, cn in vals if v > CPU_MS_PER_REQ]
            lines.append(
                f"{verdict(not over)} CPU per proxied request, {g['name']} {pin}: "
                f"{min(vals)[0]:.3f}-{worst[0]:.3f} ms (worst {worst[1]}; <= {CPU_MS_PER_REQ})"
                + (f"; over: {', '.join(over)}" if over else "")
            )
    # 3. concurrency 64, 2 workers vs the best LiteLLM variant (unpinned: pinned gives one core to servers)
    w2 = next((g for g in tg if g["name"] == "tollgate-w2"), None)
    for cn in [c for c in cases if c.endswith("_c64")]:
        pin = "unpinned" if "unpinned" in pins else pins[0]
        r = ((w2 or {}).get("runs", {}).get(pin) or {}).get(cn)
        ref = best_litellm(summary, pin, cn)
        if not r or "error" in r or not ref:
            lines.append(f"{verdict(None)} {cn} tollgate-w2 vs LiteLLM ({pin}): not measured")
            continue
        x = r["rps"] / ref[1]
        note = "" if pin == "unpinned" else " (pinned: both workers share one core)"
        lines.append(
            f"{verdict(x >= LITELLM_FACTOR_C64)} {cn} tollgate-w2 vs best LiteLLM ({ref[0]}, {pin}){note}: "
            f"{r['rps']:.0f} / {ref[1]:.1f} req/s = {x:.1f}x (>= {LITELLM_FACTOR_C64:.0f}x)"
        )

    # problems: entry errors, failed functional checks, errors during load, upstream mismatch
    dchecks = summary.get("direct_checks") or {}
    for g in tg:
        if g.get("error"):
            problems.append(f"{g['name']}: {g['error']}")
        c = g.get("checks") or {}
        bad = []
        for k, want in (
            ("chat_status", 200),
            ("chat_has_content", True),
            ("stream_status", 200),
            ("stream_done", True),
            ("stream_content_ok", True),
            ("stream_usage_chunk_choices_empty", True),
        ):
            if c and c.get(k) != want:
                bad.append(f"{k}={c.get(k)!r}")
        for k in ("chat_usage", "stream_usage"):
            if c and c.get(k) != dchecks.get(k):
                bad.append(f"{k}={c.get(k)!r} (direct {dchecks.get(k)!r})")
        bad += [f"{k}={v!r}" for k, v in c.items() if k.endswith("_error") or k == "stream_bad_json"]
        if bad:
            problems.append(f"{g['name']} functional checks: {', '.join(bad)}")
        for pin, runs in (g.get("runs") or {}).items():
            for cn, r in runs.items():
                if cn == "_stream_probe":
                    if r.get("errors"):
                        problems.append(f"{g['name']} {pin} stream probe: {r['errors']} errors of {r['n']}")
                    continue
                if r.get("errors"):
                    problems.append(
                        f"{g['name']} {pin} {cn}: {r['errors']} errors ({r.get('non2xx')} non-2xx, "
                        f"{r.get('socket_errors')} socket) of {r.get('requests')}"
                    )
                u = r.get("upstream_per_client_req")
                if u is not None and not 0.98 <= u <= 1.05:
                    problems.append(f"{g['name']} {pin} {cn}: upstream requests per client request = {u}")
    return rows, lines, problems, ok


def report(out: Path, keep_audit: bool) -> bool:
    with open(out / "summary.json") as f:
        summary = json.load(f)
    rows, target_lines, problems, ok = build_report(summary)
    head = [
        "| target | pin | case | req/s | p50 ms | p99 ms | added p50 | added p99 | CPU ms/req | errors "
        "| x LiteLLM | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    refs = []
    for pin in summary["args"]["pin"]:
        for cn in case_order(summary):
            b = best_litellm(summary, pin, cn)
            if b:
                refs.append(f"{pin}/{cn}: {b[0]}")
    extra = []
    for g in summary["gateways"]:
        if g["name"].startswith("tollgate"):
            s = audit_stats(out / f"audit_{g['name']}.jsonl", g["name"])
            if s:
                extra.append(s)
            s = log_findings(out / f"gateway_{g['name']}.log", g["name"])
            if s:
                problems.append(s)
            if not keep_audit and (out / f"audit_{g['name']}.jsonl").exists():
                (out / f"audit_{g['name']}.jsonl").unlink()
    versions = [f"{g['name']}: {g.get('version', '?')}" for g in summary["gateways"]]
    probe = []
    for g in summary["gateways"]:
        for pin, runs in (g.get("runs") or {}).items():
            p = runs.get("_stream_probe")
            if p:
                probe.append(f"{g['name']} {pin}: TTFT p50 {p['ttft_p50_ms']} ms, total p50 {p['total_p50_ms']} ms")

    md = [
        f"# tollgate LLM door benchmark {summary['started']}",
        "",
        f"`{' '.join(map(shlex.quote, summary['argv']))}`",
        "",
        "Versions: " + "; ".join(versions),
        "",
        *head,
        *rows,
        "",
        "added p50/p99 = gateway minus direct-to-mock (ms). CPU ms/req = utime+stime of the gateway's process tree "
        "per request. x LiteLLM = req/s / best LiteLLM variant in this run for the same pin mode and case "
        f"({'; '.join(refs) or 'none measured'}). (!) = interference flagged by the harness: rerun.",
        "",
        "## Targets",
        "",
        *[f"- {t}" for t in target_lines],
        "",
        "## Problems",
        "",
        *([f"- {p}" for p in problems] or ["- none recorded (functional checks OK, no errors, upstream 1:1)"]),
    ]
    if extra:
        md += ["", "## Audit", "", *[f"- {e}" for e in extra]]
    if probe:
        md += ["", "## Stream probe (sequential, 1 connection)", "", *[f"- {p}" for p in probe]]
    (out / "tollgate_summary.md").write_text("\n".join(md) + "\n")

    # terminal: the same, as a fixed-width table
    print()
    print("=" * 100)
    print_table(head[0], rows, numeric=range(3, 11))
    print(f"LiteLLM reference per case: {'; '.join(refs) or 'none measured'}")
    print()
    for t in target_lines:
        print(t)
    print()
    for p in problems or ["no problems recorded for tollgate (functional checks OK, no errors, upstream 1:1)"]:
        print("problem: " + p if problems else p)
    for e in extra:
        print(e)
    print(f"\nMarkdown: {out / 'tollgate_summary.md'}\nJSON:     {out / 'summary.json'}")
    return ok


# ------------------------------------------------------------------ budget mode (Redis store on vs. off)
def redis_cli(*args: str, check: bool = True) -> str:
    r = subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"redis-cli {' '.join(args[:2])} failed: {r.stderr.strip()}")
    return r.stdout


def ensure_redis() -> int:
    """Redis on loopback answers (started when it does not); returns redis-server's PID."""
    if shutil.which("redis-cli") is None:
        raise SystemExit("--budget needs redis-cli and redis-server (apt-get install redis-server)")
    if redis_cli("ping", check=False).strip() != "PONG":
        print(f"starting redis-server on {REDIS_HOST}:{REDIS_PORT}", file=sys.stderr)
        subprocess.run(
            ["redis-server", "--daemonize", "yes", "--bind", REDIS_HOST, "--port", str(REDIS_PORT),
             "--save", "", "--appendonly", "no"],
            check=True,
        )  # fmt: skip
        for _ in range(50):
            if redis_cli("ping", check=False).strip() == "PONG":
                break
            time.sleep(0.1)
        else:
            raise SystemExit("redis-server did not come up")
    m = re.search(r"process_id:(\d+)", redis_cli("info", "server"))
    return int(m.group(1)) if m else 0


def redis_scan(pattern: str) -> list[str]:
    return [k for k in redis_cli("--scan", "--pattern", pattern).splitlines() if k]


def redis_cleanup(prefixes: dict[str, str]) -> int:
    n = 0
    for prefix in prefixes.values():
        assert prefix.startswith("tollgate-bench-")
        keys = redis_scan(prefix + "*")
        for i in range(0, len(keys), 1000):
            n += int(redis_cli("unlink", *keys[i : i + 1000]).strip() or 0)
    return n


class CpuSampler(threading.Thread):
    """utime+stime of one process (redis-server) every `interval` s: its CPU is nobody's in the harness."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.samples = pid, interval, []
        self.done = threading.Event()

    def run(self) -> None:
        tck = os.sysconf("SC_CLK_TCK")
        while not self.done.is_set():
            try:
                st = Path(f"/proc/{self.pid}/stat").read_bytes()
                f = st[st.rfind(b")") + 2 :].split()
                self.samples.append((time.time(), (int(f[11]) + int(f[12])) / tck))
            except (OSError, IndexError, ValueError):
                pass
            self.done.wait(self.interval)


def case_windows(out: Path, started: str) -> dict[tuple[str, str, str], list[float]]:
    """(target, pin, case) -> end times (epoch s, one per round) from the harness's lines in run.log."""
    day = datetime.datetime.fromisoformat(started).replace(hour=0, minute=0, second=0, microsecond=0)
    res: dict[tuple[str, str, str], list[float]] = {}
    last = None
    pat = re.compile(r"^\[bench (\d\d):(\d\d):(\d\d)\] (\S+)\s+(\S+)\s+(\S+)\s+rps=")
    for line in (out / "run.log").read_text(errors="replace").splitlines():
        m = pat.match(line)
        if not m:
            continue
        t = day + datetime.timedelta(hours=int(m[1]), minutes=int(m[2]), seconds=int(m[3]))
        if last is not None and t < last - datetime.timedelta(hours=1):  # past midnight
            day += datetime.timedelta(days=1)
            t += datetime.timedelta(days=1)
        last = t
        res.setdefault((m[4], m[5], m[6]), []).append(t.timestamp())
    return res


def cpu_rate(samples: list[list[float]], t0: float, t1: float) -> float | None:
    """CPU cores used between t0 and t1 (the samples just inside the window)."""
    inside = [s for s in samples if t0 <= s[0] <= t1]
    if len(inside) < 2 or inside[-1][0] - inside[0][0] < 1.0:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def redis_cpu_per_req(out: Path, summary: dict, name: str, pin: str, case: dict, r: dict) -> float | None:
    """redis-server CPU ms per request during this target's case: mean over rounds, interior of each run."""
    path = out / "redis_cpu.json"
    if not path.exists():
        return None
    samples = json.loads(path.read_text())["samples"]
    ends = case_windows(out, summary["started"]).get((name, pin, case["name"]), [])
    rps = [x["rps"] for x in r.get("rounds", [])] or [r["rps"]]
    vals = []
    for end, q in zip(ends, rps, strict=False):  # log time is floored to the second; stay well inside wrk's run
        rate = cpu_rate(samples, end + 1.3 - case["duration"], end - 0.3)
        if rate is not None and q:
            vals.append(1000 * rate / q)
    return sum(vals) / len(vals) if vals else None


def budget_check(out: Path, prefixes: dict[str, str]) -> dict:
    """Proof the budget path ran: Redis counters under each prefix and the audit rows, before cleanup."""
    res = {}
    for name, prefix in prefixes.items():
        keys = redis_scan(prefix + "*")
        counters = {}
        for k in keys:
            if ":c:" in k:
                v = redis_cli("hgetall", k).split()
                h = dict(zip(v[::2], v[1::2], strict=True))
                counters[k[len(prefix) :]] = {
                    "spent_usd": int(h.get("spent", 0)) / 1e9,
                    "reserved": int(h.get("reserved", 0)),
                }
        c = {"prefix": prefix, "keys": len(keys), "counters": counters}
        ap = out / f"audit_{name}.jsonl"
        if ap.exists():
            n = unchecked = ok = 0
            cost = 0.0
            with open(ap, "rb") as f:
                for line in f:
                    n += 1
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    d = e.get("detail") or {}
                    unchecked += bool(d.get("budget_unchecked")) or b"budget_unchecked" in line
                    ok += e.get("status") == 200
                    cost += e.get("cost_usd") or 0.0
            c["audit"] = {"events": n, "status_200": ok, "budget_unchecked": unchecked, "cost_usd": round(cost, 6)}
        log = out / f"gateway_{name}.log"
        if log.exists():
            text = log.read_text(errors="replace")
            c["log_budget_lines"] = sum(1 for ln in text.splitlines() if "budget" in ln.lower())
        res[name] = c
    (out / "budget_check.json").write_text(json.dumps(res, indent=2) + "\n")
    return res


def budget_ran_ok(c: dict) -> list[str]:
    """Verdict lines: the Redis path ran (spend on every level, a settle per request), and ran clean."""
    spent = [v["spent_usd"] for v in c["counters"].values()]
    reserved = sum(v["reserved"] for v in c["counters"].values())
    a = c.get("audit") or {}
    events, unchecked = a.get("events", 0), a.get("budget_unchecked", 0)
    over = (min(spent, default=0) / a["cost_usd"] - 1) * 100 if a.get("cost_usd") else None
    # Every request settled exactly once: each level's spend equals the audit's cost (no key per request).
    ran = len(spent) >= 3 and min(spent) > 0 and events > 0 and over is not None and abs(over) < 0.01
    clean = unchecked == 0 and reserved == 0
    return [
        f"[{'PASS' if ran else 'FAIL'}] Redis budget path ran: {len(spent)} counters (org/team/agent), spent "
        f"${min(spent, default=0):.4f}-${max(spent, default=0):.4f} vs ${a.get('cost_usd', 0):.4f} in the audit "
        f"({fmt(over, '.2f', True)}%) for {events} audit events; {c['keys']} keys in Redis",
        f"[{'PASS' if clean else 'WARN'}] ran clean: {unchecked} events flagged budget_unchecked "
        f"({100 * unchecked / max(events, 1):.2f}%, store timeouts / breaker: fail-open); "
        f"${reserved / 1e9:.4f} still reserved after the run (held until reservation_ttl_s)",
    ]


def budget_report(out: Path) -> bool:
    with open(out / "summary.json") as f:
        summary = json.load(f)
    checks = json.loads((out / "budget_check.json").read_text()) if (out / "budget_check.json").exists() else {}
    gws = {g["name"]: g for g in summary["gateways"]}
    pins = summary["args"]["pin"]
    rounds = summary["args"].get("rounds", 1)

    def mean(r: dict, k: str) -> float:  # over rounds when there are several (each pair ran in every round)
        rs = [x[k] for x in r.get("rounds", []) if x.get(k) is not None]
        return sum(rs) / len(rs) if rs else r[k]

    head = (
        "| workers | pin | case | req/s off | req/s on | drop % | p50 off | p50 on | added p50 | p99 off | p99 on "
        "| CPU ms/req off | CPU ms/req on | Redis CPU ms/req | verdict |"
    )
    rows, lines, ok = [], [], True
    for off, on in BUDGET_PAIRS:
        if off not in gws or on not in gws:
            continue
        workers = TOLLGATE_WORKERS[off]
        for pin in pins:
            for case in summary["cases"]:
                cn = case["name"]
                a = (gws[off].get("runs", {}).get(pin) or {}).get(cn)
                b = (gws[on].get("runs", {}).get(pin) or {}).get(cn)
                if not a or not b or "error" in a or "error" in b:
                    rows.append(f"| {workers} | {pin} | {cn} |" + " - |" * 11 + " not measured |")
                    ok = False
                    continue
                if rounds > 1 and a.get("rounds") and b.get("rounds"):  # paired per round, then the mean
                    pr = list(zip(a["rounds"], b["rounds"], strict=False))
                    drop = sum(100 * (1 - y["rps"] / x["rps"]) for x, y in pr) / len(pr)
                    add50 = sum(y["p50_ms"] - x["p50_ms"] for x, y in pr) / len(pr)
                else:
                    drop = 100 * (1 - b["rps"] / a["rps"])
                    add50 = b["p50_ms"] - a["p50_ms"]
                redis = redis_cpu_per_req(out, summary, on, pin, case, b)
                if case["conns"] == 1:
                    passed = add50 <= BUDGET_ADDED_P50_MS
                    v = f"{'PASS' if passed else 'FAIL'} +p50 <= {BUDGET_ADDED_P50_MS}"
                    lines.append(
                        f"[{'PASS' if passed else 'FAIL'}] Redis budget path, {workers} worker(s) {pin} {cn}: "
                        f"p50 {add50:+.3f} ms (<= {BUDGET_ADDED_P50_MS}); req/s {drop:.1f}% lower (latency-bound)"
                    )
                else:
                    passed = drop <= BUDGET_RPS_DROP_PCT
                    v = f"{'PASS' if passed else 'FAIL'} drop <= {BUDGET_RPS_DROP_PCT:.0f}%"
                    lines.append(
                        f"[{'PASS' if passed else 'FAIL'}] Redis budget path, {workers} worker(s) {pin} {cn}: "
                        f"req/s {mean(a, 'rps'):.0f} -> {mean(b, 'rps'):.0f} = {drop:.1f}% drop "
                        f"(<= {BUDGET_RPS_DROP_PCT:.0f}%); p50 {add50:+.3f} ms"
                    )
                ok = ok and passed
                flag = " (!)" if b.get("interference_warning") else ""
                rows.append(
                    f"| {workers} | {pin} | {cn} | {fmt_rps(mean(a, 'rps'))} | {fmt_rps(mean(b, 'rps'))}{flag} | "
                    f"{drop:.1f} | {mean(a, 'p50_ms'):.3f} | {mean(b, 'p50_ms'):.3f} | {add50:+.3f} | "
                    f"{mean(a, 'p99_ms'):.3f} | {mean(b, 'p99_ms'):.3f} | "
                    f"{fmt(a.get('gateway_cpu_ms_per_req'), '.3f')} | {fmt(b.get('gateway_cpu_ms_per_req'), '.3f')} | "
                    f"{fmt(redis, '.3f')} | {v} |"
                )
    ran = []
    for name, c in checks.items():
        for line in budget_ran_ok(c):
            ok = ok and not line.startswith("[FAIL]")
            ran.append(line.replace("] ", f"] {name}: ", 1))
    if not checks:
        ran.append("[ n/a] budget path: no budget_check.json (Redis not inspected)")
    md = [
        f"# tollgate LLM door: Redis budget store on vs. off, {summary['started']}",
        "",
        f"`{' '.join(map(shlex.quote, summary['argv']))}`",
        "",
        f"Rounds: {rounds} (interleaved; off/on pairs run back to back). Budget on = budgets at org, team and agent "
        f"level ({', '.join(f'{k} {p} ${v:,.0f}' for k, (p, v) in BUDGET_LIMITS.items())}; never reached) in Redis at "
        f"{REDIS_URL}: one EVALSHA to reserve, one (in the background) to settle per request.",
        "",
        head,
        "|---:|---|---|" + "---:|" * 11 + "---|",
        *rows,
        "",
        "req/s, p50, p99: mean over rounds; drop % and added p50: budget-on minus budget-off, paired per round, "
        "then the mean. CPU ms/req: the gateway's process tree (median-RPS round). Redis CPU ms/req: redis-server "
        "(sampled from /proc; the harness counts it as 'other' CPU, so (!) interference flags on budget-on rows "
        "are largely Redis itself). Redis shares the machine's cores with wrk, the mock and the gateway.",
        "",
        "## Targets",
        "",
        *[f"- {t}" for t in lines],
        "",
        "## Budget path ran",
        "",
        *[f"- {t}" for t in ran],
    ]
    (out / "tollgate_budget_summary.md").write_text("\n".join(md) + "\n")
    print()
    print("=" * 100)
    print("Redis budget store on vs. off")
    print_table(head, rows, numeric=range(0, 14))
    print()
    for t in lines + ran:
        print(t)
    print(f"\nMarkdown: {out / 'tollgate_budget_summary.md'}")
    return ok


# ------------------------------------------------------------------ main
def main(argv: list[str]) -> int:
    if argv[:1] == ["write-config"]:
        return write_config_main(argv[1:])
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Unknown options are passed to run_bench.py.",
    )
    add_common_options(ap, DEFAULT_HARNESS, "loadtests/results/<timestamp>", "audit_*.jsonl")
    ap.add_argument("--cases", help=f"KIND:CONNS[:SECONDS],... (default {DEFAULT_CASES})")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (median reported)")
    ap.add_argument(
        "--only",
        help="gateways to run: tollgate,tollgate-w2,litellm,litellm-w2 (default), tollgate-budget,tollgate-budget-w2",
    )
    ap.add_argument(
        "--budget",
        action="store_true",
        help=f"Redis budget store on vs. off: tollgate(-w2) and tollgate-budget(-w2), cases {BUDGET_CASES}, unpinned",
    )
    ap.add_argument(
        "--protocols",
        action="store_true",
        help="/v1/responses and /v1/messages vs /v1/chat/completions (self-contained; --requests, --rounds: 12)",
    )
    ap.add_argument("--requests", type=int, default=400, help="--protocols: requests per route, mode and round")
    ap.add_argument("--duration", type=int, default=12, help="seconds per case (default 12)")
    ap.add_argument("--latency-duration", type=int, default=8, help="seconds for 1-connection cases (default 8)")
    ap.add_argument("--warmup", type=int, help="warm-up seconds per target and pin mode (harness default 5)")
    ap.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_CASES}, short warm-up, unpinned")
    args, passthrough = ap.parse_known_args(argv)
    if passthrough[:1] == ["--"]:
        passthrough = passthrough[1:]

    if args.report_only:
        if not args.out or not (args.out / "summary.json").exists():
            raise SystemExit("--report-only needs --out DIR with a summary.json")
        ok = report(args.out.resolve(), keep_audit=True)
        if (args.out / "budget_check.json").exists() or args.budget:
            ok = budget_report(args.out.resolve()) and ok
        return 1 if args.strict and not ok else 0

    if args.protocols:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = (args.out or RESULTS / (stamp + "-protocols")).resolve()
        ok = _protocols.run(out, args.requests, args.rounds if args.rounds > 1 else 12)
        return 1 if args.strict and not ok else 0

    harness = args.harness.resolve()
    names = ["tollgate", "tollgate-w2", "litellm", "litellm-w2"]
    if args.budget:
        names = [n for pair in BUDGET_PAIRS for n in pair]
        args.cases = args.cases or (QUICK_CASES if args.quick else BUDGET_CASES)
        args.pin = args.pin or "unpinned"
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
    preflight(harness, need_litellm=any(n.startswith("litellm") for n in names))
    run_id = secrets.token_hex(4)  # Redis keys of this run: tollgate-bench-<run>-<entry>:...
    prefixes = {n: f"tollgate-bench-{run_id}-{n.removeprefix('tollgate-')}:" for n in BUDGET_WORKERS}
    budget_names = {n: prefixes[n] for n in names if n in prefixes}
    redis_pid = ensure_redis() if budget_names else 0

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (args.out or RESULTS / (stamp + ("-quick" if args.quick else ""))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    src, version = tollgate_source(out, args.git_ref)
    print(f"measuring {version}", file=sys.stderr)
    check_config(out, args.audit, src)
    if budget_names:
        check_config(out, args.audit, src, next(iter(budget_names.values())))

    base = tollgate_source(out, args.baseline_ref) if args.baseline_ref else None
    if base is not None:
        print(f"baseline {base[1]}", file=sys.stderr)
        if not args.only:
            names.append(BASELINE)
    entries = gateway_entries(out, harness, args.audit, src, version, prefixes, base)
    known = {e["name"] for e in entries}
    unknown = set(names) - known
    if unknown:
        raise SystemExit(f"--only: unknown gateway(s) {sorted(unknown)}; known: {sorted(known)}")
    gwfile = out / "gateways.json"
    gwfile.write_text(json.dumps(entries, indent=2) + "\n")

    cmd = [sys.executable, str(harness / "run_bench.py"), "--gateways-file", str(gwfile), "--out", str(out)]
    cmd += ["--only", ",".join(names)]
    ref = next((n for n in names if n.startswith("litellm")), None)
    if ref:
        cmd += ["--reference", ref]
    if args.quick:
        cmd += ["--cases", args.cases or QUICK_CASES, "--warmup", str(args.warmup if args.warmup is not None else 1)]
        cmd += ["--pin", args.pin or "unpinned", "--probe-n", "20", "--quiet-timeout", "30"]
    else:
        cmd += ["--cases", args.cases or DEFAULT_CASES]
        cmd += ["--duration", str(args.duration), "--latency-duration", str(args.latency_duration)]
        if args.warmup is not None:
            cmd += ["--warmup", str(args.warmup)]
        if args.pin:
            cmd += ["--pin", args.pin]
    if args.rounds != 1:
        cmd += ["--rounds", str(args.rounds)]
    cmd += passthrough
    sampler = CpuSampler(redis_pid) if redis_pid else None
    try:
        if sampler:
            sampler.start()
        rc = run_logged(cmd, out)  # the harness's progress, on the terminal and in <out>/run.log
        if sampler:
            sampler.done.set()
            sampler.join()
            (out / "redis_cpu.json").write_text(json.dumps({"pid": redis_pid, "samples": sampler.samples}) + "\n")
        if budget_names:
            budget_check(out, budget_names)  # Redis counters and audit rows, before both are deleted
    finally:
        if budget_names:
            try:
                print(f"deleted {redis_cleanup(budget_names)} Redis keys of this run", file=sys.stderr)
            except (SystemExit, OSError) as e:
                print(f"Redis cleanup failed ({e}): redis-cli --scan --pattern 'tollgate-bench-{run_id}-*' "
                      "| xargs -r redis-cli unlink", file=sys.stderr)  # fmt: skip
    if not (out / "summary.json").exists():
        print(f"run_bench.py exited {rc} without a summary.json (see {out})", file=sys.stderr)
        return rc or 1
    ok = report(out, args.keep_audit)
    if budget_names:
        ok = budget_report(out) and ok
    if rc:
        return rc
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
