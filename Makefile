# Two commands: `make demo` runs the app with a demo agency; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_URL ?= redis://127.0.0.1:6379/9
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: demo test services browser lint

# The app alone for the demo; the test tools on top of it for lint and tests.
$(BIN)/.installed-app: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed-app
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Sets up a SQLite database under instance/, fills it with the demo agency the
# first time, and serves the app on http://127.0.0.1:5000 (sign in as admin@demo.agency).
demo: $(BIN)/.installed-app
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi seed-demo --if-empty
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

services:
	bash .ci/services

# Debian's Chromium for the end-to-end tests (Playwright drives it; it downloads no browser of its own).
browser:
	bash .ci/browser

lint: $(BIN)/.installed-test
	$(BIN)/ruff check agency tests migrations wsgi.py

# The whole suite against PostgreSQL and Redis with real workers, then again
# on the embedded SQLite database.
test: $(BIN)/.installed-test services browser lint
	AGENCY_DATABASE_URL=$(PG_URL) AGENCY_REDIS_URL=$(REDIS_URL) $(BIN)/pytest
	env -u AGENCY_DATABASE_URL AGENCY_REDIS_URL=$(REDIS_URL) $(BIN)/pytest
