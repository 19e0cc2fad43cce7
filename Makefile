# Two commands on a fresh machine:  `make serve`  (run the service)  and  `make test`  (run the tests).
PYTHON ?= python3.11
VENV   ?= .venv
PORT   ?= 8000
BIN     = $(VENV)/bin

.PHONY: serve test bench install install-test system-deps

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[test]" -e "./client[all]"

# GDAL's command-line tools of Debian 12 (3.6): the QGIS-era client the interoperability tests use.
system-deps:
	@command -v gdalinfo >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin >/dev/null) \
	      || echo "warning: could not install gdal-bin; GDAL CLI tests will be skipped"; \
	  fi; }
	@# PostgreSQL 15 + PostGIS 3: the pgstac STAC backend option and its tests (a real server on loopback).
	@test -f /usr/share/postgresql/15/extension/postgis.control || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-15-postgis-3 >/dev/null) \
	      || echo "warning: could not install postgresql-15-postgis-3; pgstac tests will be skipped"; \
	  fi; }
	@# Redis (shared tile cache) and nginx (load balancer): the replica tests start real ones on loopback.
	@{ command -v redis-server >/dev/null 2>&1 && { command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx; }; } || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nginx-light >/dev/null) \
	      || echo "warning: could not install redis-server/nginx-light; replica tests will be skipped"; \
	  fi; }

serve: install
	GEODEFERRED_PORT=$(PORT) $(BIN)/gunicorn -c deploy/gunicorn.conf.py app.asgi:app

test: install-test system-deps
	$(BIN)/python -m pytest

bench: install-test
	$(BIN)/python -m bench
