# Two commands on a fresh machine:  `make serve`  (run the service)  and  `make test`  (run the tests).
PYTHON ?= python3.11
VENV   ?= .venv
PORT   ?= 8000
BIN     = $(VENV)/bin

.PHONY: serve test bench install install-test install-bench notebooks system-deps

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamp files: pip runs again only when pyproject.toml changed (or the venv is new), so a second
# `make serve` starts at once.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml client/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]" -e "./client[all]"
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-notebooks: pyproject.toml client/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[notebooks]" -e "./client[all]"
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml client/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test,bench]" -e "./client[all]"
	@touch $@ $(VENV)/.installed-test $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-bench: $(VENV)/.installed-bench

# Debian 12 packages the tests use as real clients and servers: GDAL's command-line tools (3.6, the
# QGIS-era client), chromium + chromium-driver (the web pages in a headless browser), PostgreSQL 15 +
# PostGIS 3 (the pgstac STAC backend option), Redis and nginx (the replica tests). Tests that need one
# skip with the reason when it could not be installed.
system-deps:
	@missing=""; \
	command -v gdalinfo >/dev/null 2>&1 || missing="$$missing gdal-bin"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	test -f /usr/share/postgresql/15/extension/postgis.control || missing="$$missing postgresql-15 postgresql-15-postgis-3"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	{ command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx; } || missing="$$missing nginx-light"; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "warning: could not install$$missing; the tests that need them will be skipped"; \
	fi

serve: install
	GEODEFERRED_PORT=$(PORT) $(BIN)/gunicorn -c deploy/gunicorn.conf.py app.asgi:app

test: install-test system-deps
	$(BIN)/python -m pytest

bench: install-bench
	$(BIN)/python -m bench

# The notebooks' dependencies (leafmap, JupyterLab) in the same venv; then open them against a
# running `make serve` (GEODEFERRED_URL selects another service).
notebooks: $(VENV)/.installed-notebooks
	@echo "start the service (make serve), then: $(BIN)/jupyter lab notebooks/"
