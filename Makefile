# Every routine of the project. `make test` and `make demo` work on a fresh machine: they
# create .venv and install what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint typecheck unit demo bench-quality bench-engine clean

setup: $(STAMP)

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

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
