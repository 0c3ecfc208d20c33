# embodiq — two commands on a fresh machine:  make demo   and   make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STORE  ?= $(CURDIR)/datasets/store

.PHONY: demo test test-fsspec test-fast lint bench ui clean-store chromium servers

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

## demo: install, make synthetic recordings and run the whole pipeline on them
demo: $(STAMP)
	$(VENV)/bin/embodiq demo --store "$(STORE)"

## test: install, then ruff, mypy and the whole test suite (slow and browser tests included)
test: $(STAMP) chromium servers
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q

## test-fsspec: the whole suite again, every store going through its fsspec implementation
## (file:// on local disk): the suite passes against either implementation of Store
test-fsspec: $(STAMP) chromium servers
	EMBODIQ_STORE_BACKEND=fsspec $(PY) -m pytest -q

## test-fast: skip the tests marked slow
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

## lint: ruff, then mypy (strict on schemas, robots and checks; see pyproject.toml)
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

## bench: speed and memory benchmarks (ratios against baselines measured in the same run)
bench: $(STAMP)
	$(PY) benchmarks/run.py

## ui: the Dagster UI over the store's instance (runs, assets, checks)
ui: $(STAMP)
	DAGSTER_HOME="$(STORE)/dagster" EMBODIQ_STORE="$(STORE)" \
	  $(VENV)/bin/dagster dev -m pipelines.definitions

## chromium: the headless browser the report test uses (Debian package; skipped if apt is absent)
chromium:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq chromium >/dev/null 2>&1) || \
	  echo "chromium not installed: the browser test will be skipped"; }

## servers: PostgreSQL and Redis for the scale tests (Debian packages; the tests start their own
## instances on loopback and never use the system services; skipped if apt is absent)
servers:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v redis-server >/dev/null; } || \
	  { command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq postgresql redis-server >/dev/null 2>&1) || \
	    echo "postgresql/redis not installed: the scale tests will be skipped"; }

clean-store:
	rm -rf "$(STORE)"
