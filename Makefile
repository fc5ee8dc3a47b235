# Every target creates or refreshes the virtualenv it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test lint format system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: start scanpulse at http://127.0.0.1:8000 (another port: make run PORT=8001) with a demo
## organization, a sample repository with known problems and advisories for its pins
run: $(STAMP)
	$(BIN)/scanpulse serve --demo --port $(PORT)

## test: lint, type-check and run the whole suite (installs nginx and Chromium if missing)
test: $(STAMP) system-deps lint
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## system-deps: the Debian packages the integration tests drive (real nginx, real Chromium)
system-deps:
	@scripts/system-deps

clean:
	rm -rf $(VENV) var
