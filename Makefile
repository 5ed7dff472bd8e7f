# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo billing test test-kit bench lint format clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## demo: a local server on SQLite at http://127.0.0.1:8000
demo: export AUTHSERVER_DEMO = on
demo: export AUTHSERVER_LOG_FORMAT = text
demo: $(STAMP)
	$(BIN)/authserver init
	$(BIN)/authserver demo setup
	$(BIN)/authserver serve --host 127.0.0.1 --port 8000

## billing: the example billing service on http://127.0.0.1:8001, next to a running `make demo`
billing: $(STAMP)
	$(BIN)/python -m pip install --quiet -e "clients/python[flask]"
	$(BIN)/python examples/billing/run.py

# Browser tests use Debian's Chromium (never a downloaded browser build).
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# axe-core, which the browser tests inject into Chromium (tests/package.json, locked), through
# Debian's npm.
/usr/bin/npm:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm

AXE := tests/node_modules/axe-core/axe.min.js
$(AXE): tests/package.json tests/package-lock.json /usr/bin/npm
	npm ci --prefix tests --no-audit --no-fund --silent
	touch $(AXE)

# The load generator for benchmarks: Debian's wrk.
/usr/bin/wrk:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk

## bench: load benchmarks against gunicorn on PostgreSQL, beside node-oidc-provider (needs node and npm,
##        skipped without them); writes benchmarks/RESULTS.md
bench: $(STAMP) /usr/bin/wrk
	$(BIN)/python -m benchmarks.run

## test: lint, then the whole suite on SQLite and PostgreSQL, browser tests included, on every
##       core (each worker makes its own databases; a module's tests stay on one worker)
test: $(STAMP) $(CHROMIUM) $(AXE) lint
	$(BIN)/python -m pytest -n auto --dist loadscope
	$(MAKE) test-kit

# The resource server kit as its users get it: a wheel, installed with its test extras into a
# fresh venv that has nothing else, tested against gunicorn running this repository's server.
KIT := build/kit
test-kit: $(STAMP)
	rm -rf $(KIT)
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir $(KIT)/dist clients/python
	$(PYTHON) -m venv $(KIT)/venv
	$(KIT)/venv/bin/python -m pip install --quiet "$$(ls $(KIT)/dist/authserver_rs-*.whl)[test]"
	cd clients/python && AUTHSERVER_PYTHON=$(abspath $(BIN))/python KIT_FROM_WHEEL=1 \
		$(abspath $(KIT))/venv/bin/python -m pytest -p no:cacheprovider

## translations: extract the pages' messages, merge them into each catalog, compile
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k N_ --no-location --omit-header \
		--ignore-dirs="admin mail" -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --width 100
	$(BIN)/pybabel compile -d translations

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info $(KIT) tests/node_modules
