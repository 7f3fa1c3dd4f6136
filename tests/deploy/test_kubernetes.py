"""deploy/kubernetes: structure of the sidecar example (no cluster runs here).

Checks what a broken example would get wrong: object identity fields, the sidecar's
probes and scrape settings pointing at driftwatch's real port and paths, the Slack
URL coming from a Secret, resources, the ConfigMap holding a config driftwatch
accepts, and the PrometheusRule carrying exactly the promtool-tested rules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftwatch.config import parse_config
from driftwatch.errors import ConfigError
from tests.support.prometheus import RULES_FILE

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted(KUBE.glob("*.yaml"))
PORT = 9464


def objects() -> dict[str, dict[str, Any]]:
    """kind -> object, over every manifest (one object of each kind in the example)."""
    found: dict[str, dict[str, Any]] = {}
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None and doc.get("kind") != "Kustomization":
                assert doc["kind"] not in found, f"second {doc['kind']} in {path.name}"
                found[doc["kind"]] = doc
    return found


def sidecar() -> dict[str, Any]:
    containers = objects()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "driftwatch")


def memory_mib(quantity: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    raise AssertionError(f"unexpected memory quantity {quantity!r}")


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_object_has_identity(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert docs
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), path.name
        if doc["kind"] != "Kustomization":
            assert doc["metadata"]["name"], path.name


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    expected = {
        p.name for p in MANIFESTS if p.name not in ("kustomization.yaml", "secret.example.yaml")
    }
    assert set(kustomization["resources"]) == expected


def test_deployment_runs_the_app_and_the_driftwatch_sidecar() -> None:
    deployment = objects()["Deployment"]
    pod = deployment["spec"]["template"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )
    assert [c["name"] for c in pod["spec"]["containers"]] == ["app", "driftwatch"]
    container = sidecar()
    assert container["image"].startswith("driftwatch:")
    assert not container["image"].endswith(":latest")
    assert container["ports"] == [{"name": "metrics", "containerPort": PORT}]


def test_probes_hit_healthz_and_readyz_on_the_metrics_port() -> None:
    container = sidecar()
    named_port = container["ports"][0]["name"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": named_port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": named_port}


def test_scrape_annotations_and_service_monitor_point_at_the_metrics_port() -> None:
    found = objects()
    annotations = found["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(PORT)
    assert annotations["prometheus.io/path"] == "/metrics"
    service = found["Service"]
    metrics_port = next(p for p in service["spec"]["ports"] if p["name"] == "metrics")
    assert metrics_port["targetPort"] == sidecar()["ports"][0]["name"]
    pod_labels = found["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    monitor = found["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    # DriftwatchDown selects up{job=~".*driftwatch.*"}.
    assert endpoint["relabelings"] == [{"targetLabel": "job", "replacement": "driftwatch"}]


def test_slack_url_comes_from_a_secret_and_config_from_the_configmap() -> None:
    container = sidecar()
    env = {e["name"]: e for e in container["env"]}
    secret_ref = env["SLACK_WEBHOOK_URL"]["valueFrom"]["secretKeyRef"]
    example = yaml.safe_load((KUBE / "secret.example.yaml").read_text())
    assert secret_ref == {"name": example["metadata"]["name"], "key": "slack-webhook-url"}
    assert "slack-webhook-url" in example["stringData"]
    assert "hooks.slack.com" not in yaml.safe_dump(objects()), "a webhook URL in a manifest"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in objects()["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    config_mount = mounts["driftwatch-config"]
    assert config_mount["readOnly"]
    config_path = f"{config_mount['mountPath']}/driftwatch.yaml"
    assert env["DRIFTWATCH_CONFIG"]["value"] == config_path
    assert (
        volumes["driftwatch-config"]["configMap"]["name"]
        == objects()["ConfigMap"]["metadata"]["name"]
    )
    assert "driftwatch.yaml" in objects()["ConfigMap"]["data"]


def test_configmap_holds_a_config_driftwatch_accepts() -> None:
    text = objects()["ConfigMap"]["data"]["driftwatch.yaml"]
    env = {"CHROMA_URL": "http://chroma:8000", "SLACK_WEBHOOK_URL": "https://hooks.invalid/x"}
    config = parse_config(yaml.safe_load(text), env=env, source="configmap")
    assert config.listen_host == "0.0.0.0" and config.listen_port == PORT
    assert config.state_url.startswith("sqlite:////var/lib/driftwatch/")
    mounts = [m["mountPath"] for m in sidecar()["volumeMounts"]]
    assert "/var/lib/driftwatch" in mounts  # the SQLite state survives container restarts
    assert config.alerts.slack is not None
    assert config.alerts.slack.webhook_url.get_secret_value() == "https://hooks.invalid/x"
    # Unset, the variable is named as the problem (the Secret missing from the pod).
    with pytest.raises(ConfigError, match="SLACK_WEBHOOK_URL is not set"):
        parse_config(yaml.safe_load(text), env={"CHROMA_URL": "http://chroma:8000"})


def test_resources_are_set_with_headroom() -> None:
    resources = sidecar()["resources"]
    request = memory_mib(resources["requests"]["memory"])
    limit = memory_mib(resources["limits"]["memory"])
    assert request < limit, "no headroom between the memory request and the OOM limit"
    assert resources["requests"]["cpu"] and resources["limits"]["cpu"]


def test_sidecar_runs_unprivileged() -> None:
    context = sidecar()["securityContext"]
    assert context["runAsUser"] != 0
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    mounts = [m["mountPath"] for m in sidecar()["volumeMounts"]]
    assert "/tmp" in mounts  # a read-only root still needs a writable /tmp


def test_prometheus_rule_wraps_the_shipped_rules_unchanged() -> None:
    rule = objects()["PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    shipped = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    assert rule["spec"]["groups"] == shipped, (
        "deploy/kubernetes/prometheusrule.yaml is out of date: "
        "run python deploy/kubernetes/make_prometheusrule.py"
    )


def test_prometheus_rule_generator_reproduces_the_file(tmp_path: Path) -> None:
    script = KUBE / "make_prometheusrule.py"
    copy = tmp_path / "deploy" / "kubernetes"
    copy.mkdir(parents=True)
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "driftwatch.rules.yml").write_bytes(RULES_FILE.read_bytes())
    (copy / script.name).write_bytes(script.read_bytes())
    subprocess.run([sys.executable, str(copy / script.name)], check=True, capture_output=True)
    assert (copy / "prometheusrule.yaml").read_text() == (KUBE / "prometheusrule.yaml").read_text()
