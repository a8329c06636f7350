# FundGuard: `make demo` and `make test` are the whole set-up on a machine with Python 3.11, pip,
# Node and Java 17. Everything else (venv, packages, browser) is installed on first use.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test bench install lint docs clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "需要 Python 3.11 ($(PYTHON) not found)"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,spark]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/fundguard demo

test: $(STAMP)
	@if [ -x scripts/ensure-browser ]; then scripts/ensure-browser; fi
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup --timeout=900 $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

docs: $(STAMP)
	$(BIN)/fundguard docs build

clean:
	rm -rf $(VENV) var demo-data bench-data test-artifacts
