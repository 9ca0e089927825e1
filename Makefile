# The README's commands. Each one installs what it needs on a fresh machine (Python >= 3.11, Node 20).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
AZURITE := node_modules/.bin/azurite-blob
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)/include:$(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: demo test test-fast bench bench-smoke lint typecheck report install clean

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(AZURITE): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(INSTALLED) $(AZURITE)

## demo: three days through Airflow against the local Graph emulator, into ./lake, then a DuckDB summary;
## DEMO_TENANTS=3: three tenants of one deployment, their SBC view across them, into ./lake/tenants.
demo: $(INSTALLED)
	$(PY) -m demo

## test: every test, with the Graph emulator, Azurite and Airflow started and stopped by the tests.
test: $(INSTALLED) $(AZURITE)
	$(PY) -m pytest

## test-fast: the unit tests only (no Airflow DAG run, no Azurite, no PostgreSQL/Redis; tests/conftest.py says which).
test-fast: $(INSTALLED)
	$(PY) -m pytest -m "not integration"

## bench: the performance harness (prints a table; never fails on a timing).
bench: $(INSTALLED)
	$(PY) bench/run.py

bench-smoke: $(INSTALLED)
	$(PY) bench/run.py --smoke

## report: one line per day of ./lake (or LAKE=..., TABLE_FORMAT=delta) and a chart; DEMO_TENANTS=3: ./lake/tenants.
REPORT_LAKE = $(or $(LAKE),lake$(if $(filter-out 0 1,$(DEMO_TENANTS)),/tenants))
report: $(INSTALLED)
	$(PY) -m call_logs report --lake-root $(REPORT_LAKE) --chart lake_report.html $(if $(TABLE_FORMAT),--table-format $(TABLE_FORMAT))

## typecheck: mypy over plugins/, dags/ and include/ (pyproject.toml [tool.mypy]); lint runs it too.
MYPY := $(PY) -m mypy plugins dags include
typecheck: $(INSTALLED)
	$(MYPY)

## lint: ruff (lint and format check), the import contracts (pyproject.toml [tool.importlinter]), the type check.
lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(MYPY)

clean:
	rm -rf $(VENV) node_modules lake .airflow .run
