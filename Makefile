# Every routine of the project. `make test` and `make demo` work on a fresh machine: they
# create .venv and install what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup services web test lint typecheck unit demo bench-quality bench-engine bench-trail clean

setup: $(STAMP) services web

# PostgreSQL + PostGIS, NATS JetStream and Mosquitto: installed if missing, started if down.
services:
	bash scripts/services.sh

WEB := src/tagwatch/web

# The dashboard's libraries from npm (copied into static/vendor: no CDN at run time) and
# Debian's Chromium for the dashboard's Playwright tests.
web: $(WEB)/static/vendor/.installed
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

$(WEB)/static/vendor/.installed: $(WEB)/package-lock.json $(WEB)/vendor.mjs
	cd $(WEB) && npm ci --no-audit --no-fund && node vendor.mjs
	touch $@

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q

test: lint typecheck unit

demo: setup
	$(BIN)/tagwatch demo

bench-quality: setup
	$(BIN)/tagwatch bench quality

bench-engine: setup
	$(BIN)/tagwatch bench engine

# 20 million fixes in each store: the fill takes ~25-35 min on 2 cores (BENCHMARKS.md).
bench-trail: setup
	$(BIN)/tagwatch bench trail --work-dir /tmp/tagwatch-bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
