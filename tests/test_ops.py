"""Prometheus rules and the Grafana dashboard, checked against a real tollgate: the rules parse
(promtool) and every tollgate metric they name is one tollgate exports."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import ALICE, BOB, ROOT, Gateway
from tests.https_upstream import Origin, make_test_pki
from tests.tcp_proxy import TcpProxy
from tests.test_egress import NAMES, egress_config
from tests.upstream import wait_until

METRIC = re.compile(r"\btollgate_[a-z0-9_]+")


def named_in_ops() -> dict[str, set[str]]:
    alerts = (ROOT / "ops" / "alerts.yml").read_text()
    dashboard = json.loads((ROOT / "ops" / "grafana-dashboard.json").read_text())
    exprs = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "expr" and isinstance(v, str):
                    exprs.append(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(dashboard)
    return {
        "ops/alerts.yml": set(METRIC.findall(alerts)),
        "ops/grafana-dashboard.json": set(METRIC.findall(" ".join(exprs))),
    }


def exported(text: str) -> set[str]:
    """Every series name the exposition declares or carries, with the suffixes Prometheus derives."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            parts = line.split()
            name, kind = parts[2], parts[3] if line.startswith("# TYPE ") else ""
            names.add(name)
            if kind == "counter":
                names |= {name + "_total", name + "_created"}
            elif kind == "histogram":
                names |= {name + s for s in ("_bucket", "_count", "_sum", "_created")}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_uncharged_spend_and_a_lagging_loop_are_alerted_on_and_charted() -> None:
    """A settle Redis never confirmed is spend nobody was charged for; a late loop delays every request."""
    for source, used in named_in_ops().items():
        for name in ("tollgate_budget_settles_unresolved_total", "tollgate_event_loop_lag_seconds_bucket"):
            assert name in used, f"{source} does not name {name}"


def test_promtool_checks_the_alert_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/services.sh installs it)")
    out = subprocess.run([promtool, "check", "rules", str(ROOT / "ops" / "alerts.yml")], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_metric_in_alerts_and_dashboard_is_exported(upstream, tmp_path: Path, prefix: str) -> None:
    pki = make_test_pki(tmp_path, NAMES)
    origin, plain = Origin(pki[1]).start(), Origin(None).start()
    store = TcpProxy("127.0.0.1", 6379).start()  # Redis that the test can take away
    config = egress_config(upstream.base_url, origin, plain, pki[0], tmp_path)
    config["budget"] = {"store": "redis", "redis_url": f"redis://127.0.0.1:{store.port}/0", "key_prefix": prefix}
    config["orgs"][0]["teams"][1]["budget"] = {"daily_usd": 1e-7}  # bob's team: nothing fits
    config["orgs"][0]["teams"][0]["budget"] = {"daily_usd": 100.0}  # alice: limited, so the store is asked
    gw = Gateway(tmp_path, config).start()
    try:
        headers = {"Authorization": f"Bearer {ALICE}"}
        body = {"model": "up-gpt", "messages": [{"role": "user", "content": "hi"}]}
        chat = gw.base_url + "/chat/completions"
        assert httpx.post(chat, json=body, headers=headers).status_code == 200
        pii = [{"role": "user", "content": "write to jane.doe@example.com"}]  # counted per PII type
        assert httpx.post(chat, json={**body, "messages": pii, "stream": True}, headers=headers).status_code == 200
        assert httpx.post(chat, json=body, headers={"Authorization": f"Bearer {BOB}"}).status_code == 429
        store.down()  # fail open: served, and the store error counted
        assert httpx.post(chat, json=body, headers=headers).status_code == 200
        store.up()
        trust = ssl.create_default_context(cafile=str(tmp_path / "tollgate-ca.pem"))
        with httpx.Client(proxy=f"http://alice:{ALICE}@127.0.0.1:{gw.egress_port}", verify=trust) as c:
            assert c.get(f"https://api.test:{origin.port}/user").status_code == 200
        used = set().union(*named_in_ops().values())
        # Settles and audit land just after the responses: wait until every named series is there.
        wait_until(lambda: used <= exported(httpx.get(gw.admin_url + "/metrics").text), timeout=10)
        text = httpx.get(gw.admin_url + "/metrics").text
    finally:
        gw.stop()
        store.stop()
        origin.stop()
        plain.stop()
    names = exported(text)
    for source, used in named_in_ops().items():
        assert used, f"{source} names no tollgate metric"
        missing = sorted(used - names)
        assert not missing, f"{source} names metrics tollgate does not export: {missing}"
