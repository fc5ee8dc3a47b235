# Every target creates or refreshes the virtualenv it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Checkov pins dependencies that conflict with scanpulse's (cyclonedx-python-lib, packaging,
# packageurl-python): it gets a virtualenv of its own, inside this one, found by the checkov
# analyzer without any setting (docs/analyzers.md).
CHECKOV_VERSION ?= 3.3.30
CHECKOV := $(VENV)/tools/checkov/bin/checkov
CHECKOV_STAMP := $(VENV)/tools/checkov/.installed-$(CHECKOV_VERSION)
PORT ?= 8000
# Test processes (pytest-xdist): one per core by default; each takes a whole test file at a
# time, so a module's servers start once. PYTEST_WORKERS=0 runs the suite in this process.
PYTEST_WORKERS ?= auto

.PHONY: run test lint format system-deps tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## tools: the analyzers' tools that live in virtualenvs of their own (Checkov)
tools: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): $(STAMP)
	rm -rf $(VENV)/tools/checkov
	$(PYTHON) -m venv $(VENV)/tools/checkov
	$(VENV)/tools/checkov/bin/pip install --quiet --upgrade pip
	$(VENV)/tools/checkov/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $(CHECKOV_STAMP)

## run: start scanpulse at http://127.0.0.1:8000 (another port: make run PORT=8001) with a demo
## organization, a sample repository with known problems and advisories for its pins
run: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/scanpulse serve --demo --port $(PORT)

## test: lint, type-check and run the whole suite (installs nginx and Chromium if missing)
test: $(STAMP) $(CHECKOV_STAMP) system-deps lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/python scripts/check-module-size

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## system-deps: the Debian packages the integration tests drive (real nginx, real Chromium)
system-deps:
	@scripts/system-deps

clean:
	rm -rf $(VENV) var
