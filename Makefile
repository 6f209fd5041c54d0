# credanchor: `make demo` and `make test` set up everything they need on a fresh machine (Python venv with
# pinned dependencies, the Node side with Anvil, Hardhat, solc-js and OpenZeppelin from package-lock.json).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := hardhat-local/node_modules/.installed

.PHONY: setup demo serve browser postgres test lint test-anvil test-hardhat bench bench-signing artifact schema clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml requirements.lock setup.py anchoring/_keccak.c anchoring/_base58.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	# Bytecode for our own modules, as pip writes it for an installed package (an editable install has none,
	# and with PYTHONDONTWRITEBYTECODE set every command would compile them again: a third of `verify`'s time).
	$(BIN)/python -m compileall -q anchoring verifier issuer credanchor
	touch $@

$(NODE_STAMP): hardhat-local/package.json hardhat-local/package-lock.json
	cd hardhat-local && npm ci --no-audit --no-fund
	touch $@

demo: setup
	scripts/demo.sh

# The web verifier in the foreground on the demo workspace; its chain is stopped again on Ctrl-C.
serve: setup
	scripts/serve-demo.sh

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
browser:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

# The PostgreSQL tests start Debian's PostgreSQL 15 server themselves (tests/pgserver.py).
postgres:
	@test -x "$$(pg_config --bindir 2>/dev/null)/initdb" || (apt-get update && apt-get install -y postgresql-15)

test: setup lint test-anvil test-hardhat

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-anvil: setup browser postgres
	$(BIN)/pytest

test-hardhat: setup postgres
	CREDANCHOR_TEST_NODE=hardhat $(BIN)/pytest -m "chain and not slow"

bench: setup
	$(BIN)/python -m benchmarks.run

bench-signing: setup
	$(BIN)/python -m benchmarks.run --only signing

artifact: setup
	$(BIN)/python -m contracts.compile

schema: setup
	$(BIN)/python -m anchoring.schemas

clean:
	rm -rf $(VENV) hardhat-local/node_modules demo-workspace .pytest_cache .mypy_cache .ruff_cache build anchoring/*.so
