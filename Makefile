# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run run-scaled test services install install-test bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project description changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/vault init
	$(BIN)/vault serve --host $(HOST) --port $(PORT)

# The tests start SeaweedFS themselves; PostgreSQL runs on this machine and is
# started here if it is down. With the services required, a missing one fails.
test: install-test services chromium
	VAULT_TEST_REQUIRE_SERVICES=1 $(BIN)/python -m pytest

services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || \
	  echo "PostgreSQL is not running on 127.0.0.1:5432 and could not be started"

# Headless Chromium for the browser tests (tests/browser), Debian's package.
chromium:
	@test -x /usr/bin/chromium || apt-get install -y chromium

# SeaweedFS S3, the local PostgreSQL, two web workers and the scheduler.
run-scaled: install-test services
	PORT=$(PORT) $(BIN)/python -m devstack.run_scaled

bench: install-test
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/stream.py

clean:
	rm -rf $(VENV) .pytest_cache
