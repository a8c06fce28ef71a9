"""The CI soak (the 10-minute one is `loadtests/soak.py --duration 600`): one minute of both
doors, streams, budgets in Redis and audit in PostgreSQL; RSS and open file descriptors of every
tollgate process stay within 10% of their level after warm-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_mixed_soak_keeps_memory_and_fds_flat(tmp_path: Path) -> None:
    report = tmp_path / "soak.json"
    cmd = [sys.executable, str(ROOT / "loadtests" / "soak.py"), "--duration", "60", "--warmup", "20",
           "--every", "3", "--json", str(report)]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=150)
    assert report.exists(), run.stdout + run.stderr
    verdict = json.loads(report.read_text())["verdict"]
    assert verdict["failed"] == 0, verdict
    assert verdict["requests_llm"] > 500 and verdict["requests_egress"] > 100, verdict
    assert verdict["rss_growth_pct"] <= 10 and verdict["fd_growth_pct"] <= 10, verdict
    assert run.returncode == 0, run.stdout + run.stderr
