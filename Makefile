# Two commands set up a fresh machine: `make run` and `make test` (see README.md).
# Both create their own virtual environment; nothing relies on what is installed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit browser-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@if [ -f scripts/build-assets.sh ]; then bash scripts/build-assets.sh; fi
	touch $(STAMP)

# The main job: the server on an embedded SQLite file with a live simulated demo site.
run: $(STAMP)
	$(BIN)/chargegrid serve --demo

browser-deps:
	bash scripts/ensure-chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest -q

# The whole test suite: lint, types, unit, integration (SQLite + PostgreSQL), e2e, browser.
test: $(STAMP) browser-deps lint typecheck
	$(BIN)/pytest -q -ra --durations=40

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
