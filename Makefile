# Every routine of the project. `make test` and `make demo` work on a fresh machine: they
# create .venv and install what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup services web test lint typecheck unit fuzz demo bench-quality bench-engine bench-trail clean

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
	$(BIN)/ruff check src tests fuzz
	$(BIN)/ruff format --check src tests fuzz

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q

test: lint typecheck unit

# Coverage-guided fuzzing (atheris) of every device decoder, FUZZ_SECONDS each, one after
# the other. The corpus grows in FUZZ_DIR across runs, outside the checkout (it is seeded
# with the conformance frames, which stay out of the project); an input that breaks a
# decoder's contract is written to FUZZ_DIR/crashes and stops the run (the log is
# FUZZ_DIR/<harness>.log): replay it with `$(BIN)/python fuzz/<harness>.py <file>`.
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tagwatch-fuzz
FUZZ_HARNESSES ?= $(wildcard fuzz/fuzz_*.py)

fuzz: $(STAMP)
	@mkdir -p $(FUZZ_DIR)/crashes
	@for harness in $(FUZZ_HARNESSES); do \
		name=$$(basename $$harness .py); \
		mkdir -p $(FUZZ_DIR)/corpus/$$name; \
		echo "== $$name: $(FUZZ_SECONDS) s"; \
		$(BIN)/python $$harness $(FUZZ_DIR)/corpus/$$name -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(FUZZ_DIR)/crashes/$$name- -print_final_stats=1 \
			>$(FUZZ_DIR)/$$name.log 2>&1; \
		status=$$?; \
		grep -E '^(Done|stat::number_of_executed_units)' $(FUZZ_DIR)/$$name.log; \
		if [ $$status -ne 0 ]; then tail -n 40 $(FUZZ_DIR)/$$name.log; exit $$status; fi; \
	done

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
