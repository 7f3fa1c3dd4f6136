"""deploy/compose: structure of the local stack (no Docker engine runs here).

Checks that every service the walk-through uses is there, that every file the
stack mounts exists in the repository, that ports line up between the services'
configs, and that the Prometheus and Alertmanager configs pass their own tools
(promtool, amtool from the Debian packages). The walk-through's driftwatch steps
run for real against a `chroma run` server: seed.py fills it, `driftwatch check`
with the stack's config finds no drift, and with the query model replaced as in
step 4 it finds the drift.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftwatch.config import load_config
from tests.support.chroma_server import ChromaServer
from tests.support.prometheus import PROMTOOL, RULES_FILE

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
AMTOOL = "/usr/bin/amtool"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]  # type: ignore[no-any-return]


def bind_mounts(service: str) -> list[tuple[Path, str]]:
    """(host path, container path) of a service's bind mounts (named volumes skipped)."""
    mounts = []
    for spec in services()[service].get("volumes", []):
        source, target = spec.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(((COMPOSE_DIR / source).resolve(), target))
    return mounts


def published(service: str) -> list[tuple[str, int, int]]:
    out = []
    for spec in services()[service].get("ports", []):
        host_ip, host_port, container_port = spec.split(":")
        out.append((host_ip, int(host_port), int(container_port)))
    return out


def test_the_stack_has_every_service() -> None:
    assert set(services()) == {"chroma", "driftwatch", "prometheus", "alertmanager", "grafana"}


@pytest.mark.parametrize("service", ["driftwatch", "prometheus", "alertmanager", "grafana"])
def test_every_bind_mount_exists_in_the_repository(service: str) -> None:
    mounts = bind_mounts(service)
    assert mounts
    for host, target in mounts:
        assert host.exists(), f"{service}: {host} (mounted at {target}) does not exist"
        assert ROOT in host.parents, f"{service}: {host} is outside the repository"


def test_named_volumes_are_declared() -> None:
    declared = set(compose()["volumes"])
    for name, service in services().items():
        for spec in service.get("volumes", []):
            source = spec.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} not declared"


def test_ports_are_published_on_loopback_only() -> None:
    expected = {"chroma": 8000, "driftwatch": 9464, "prometheus": 9090, "alertmanager": 9093,
                "grafana": 3000}  # fmt: skip
    for service, port in expected.items():
        assert published(service) == [("127.0.0.1", port, port)], service


def test_images_are_pinned() -> None:
    for name, service in services().items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"


def test_driftwatch_service_reads_the_mounted_config() -> None:
    dw = services()["driftwatch"]
    assert dw["build"] == {"context": "../..", "dockerfile": "Dockerfile"}
    assert (COMPOSE_DIR / dw["build"]["context"] / dw["build"]["dockerfile"]).resolve().is_file()
    mounts = dict((target, host) for host, target in bind_mounts("driftwatch"))
    config_path = dw["environment"]["DRIFTWATCH_CONFIG"]
    assert mounts[config_path] == COMPOSE_DIR / "driftwatch.yaml"
    corpus_dir = Path(dw["environment"]["SEED_CORPUS"]).parent
    assert (mounts[str(corpus_dir)] / "python-docs.jsonl").is_file()


def test_driftwatch_config_points_at_the_stack() -> None:
    env = {k: str(v) for k, v in services()["driftwatch"]["environment"].items()}
    config = load_config(COMPOSE_DIR / "driftwatch.yaml", env=env)
    assert (config.listen_host, config.listen_port) == ("0.0.0.0", 9464)
    [store] = config.stores.values()
    assert store.url == f"http://chroma:{published('chroma')[0][2]}"
    assert config.state_url == "sqlite:////var/lib/driftwatch/driftwatch.db"
    volume_targets = [spec.split(":")[1] for spec in services()["driftwatch"]["volumes"]]
    assert "/var/lib/driftwatch" in volume_targets


def test_prometheus_scrapes_driftwatch_and_loads_the_rules() -> None:
    prom = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    [job] = prom["scrape_configs"]
    assert "driftwatch" in job["job_name"]  # DriftwatchDown selects job=~".*driftwatch.*"
    assert job["static_configs"][0]["targets"] == ["driftwatch:9464"]
    assert prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        f"alertmanager:{published('alertmanager')[0][2]}"
    ]
    mounts = dict((target, host) for host, target in bind_mounts("prometheus"))
    assert mounts["/etc/prometheus/rules/driftwatch.rules.yml"] == RULES_FILE
    [pattern] = prom["rule_files"]
    assert Path("/etc/prometheus/rules/driftwatch.rules.yml").match(pattern)


def test_prometheus_config_passes_promtool() -> None:
    assert shutil.which(PROMTOOL), f"{PROMTOOL} missing: install Debian's prometheus package"
    result = subprocess.run(
        [PROMTOOL, "check", "config", "--syntax-only", str(COMPOSE_DIR / "prometheus.yml")],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_passes_amtool_and_routes_by_severity() -> None:
    assert shutil.which(AMTOOL), f"{AMTOOL} missing: install prometheus-alertmanager"
    path = COMPOSE_DIR / "alertmanager.yml"
    result = subprocess.run(
        [AMTOOL, "check-config", str(path)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for severity, receiver in (("critical", "page"), ("warning", "ticket"), ("info", "none")):
        routed = subprocess.run(
            [AMTOOL, "config", "routes", "test", f"--config.file={path}",
             f"severity={severity}", "alertname=DriftwatchQueryModelReplaced"],
            check=False, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert routed.stdout.strip() == receiver, (severity, routed.stdout, routed.stderr)


def test_grafana_gets_the_provisioning_and_dashboards() -> None:
    mounts = dict((target, host) for host, target in bind_mounts("grafana"))
    assert mounts["/etc/grafana/provisioning"] == ROOT / "grafana" / "provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == ROOT / "grafana" / "dashboards"
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "grafana" / "dashboards" / Path(home).name).is_file()
    assert Path(home).parent == Path("/var/lib/grafana/dashboards")
    provider = yaml.safe_load(
        (ROOT / "grafana" / "provisioning" / "dashboards" / "driftwatch.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load(
        (ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["type"] == "prometheus"
    # Grafana derives $__rate_interval from the datasource's scrape interval.
    prom = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    assert (
        datasource["datasources"][0]["jsonData"]["timeInterval"]
        == (prom["global"]["scrape_interval"])
    )
    assert (
        datasource["datasources"][0]["url"] == f"http://prometheus:{published('prometheus')[0][2]}"
    )


def run_python(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip


def check_statuses(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, str]]:
    checked = run_python(["-m", "driftwatch.cli", "check", "--json"], env, cwd)
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr
    results = json.loads(checked.stdout)["results"]
    return checked.returncode, {r["check"]: r["status"] for r in results}


@pytest.mark.slow
def test_walkthrough_seed_check_and_model_swap(chroma_server: ChromaServer, tmp_path: Path) -> None:
    client = chroma_server.client()
    if "python-docs" in [c.name for c in client.list_collections()]:
        client.delete_collection("python-docs")  # the shared server's previous run
    env = {
        **os.environ,
        "DRIFTWATCH_CONFIG": str(COMPOSE_DIR / "driftwatch.yaml"),
        "CHROMA_URL": chroma_server.url,
        "DRIFTWATCH_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "SEED_CORPUS": str(ROOT / "examples" / "corpus" / "python-docs.jsonl"),
    }
    seed = [str(COMPOSE_DIR / "seed.py"), "40"]
    seeded = run_python(seed, env, tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert "python-docs: seeded 40 records embedded with all-MiniLM-L6-v2" in seeded.stdout
    stored = client.get_collection("python-docs").get(include=["metadatas"])
    assert len(stored["ids"]) == 40
    assert {m["embedding_model"] for m in stored["metadatas"]} == {"all-MiniLM-L6-v2"}
    again = run_python(seed, env, tmp_path)
    assert "python-docs: already holds 40 records" in again.stdout

    # Step 3: the first check captures the baseline and finds nothing wrong.
    code, statuses = check_statuses(env, tmp_path)
    # 40 records are too few for a population reference; that check says so and
    # does not count as a failure (exit 0).
    population = statuses.pop("population")
    assert (code, set(statuses.values()), population) == (0, {"ok"}, "unavailable"), statuses

    # Step 4: the query model replaced by another 384-d model.
    swapped = tmp_path / "driftwatch.yaml"
    swapped.write_text(
        (COMPOSE_DIR / "driftwatch.yaml")
        .read_text()
        .replace("model: all-MiniLM-L6-v2    # a preset", "model: paraphrase-MiniLM-L3-v2  #")
    )
    code, statuses = check_statuses({**env, "DRIFTWATCH_CONFIG": str(swapped)}, tmp_path)
    assert code == 1
    assert statuses["fingerprint"] == "drift" and statuses["consistency"] == "drift"
    client.delete_collection("python-docs")
