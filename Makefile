# CampusPass — the two commands of the README, and a few more.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint bench lock clean-demo

## make run [PORT=8000] [HOST=127.0.0.1] [EMPTY=1]: install everything, migrate the SQLite database,
## load the demo (EMPTY=1: no sample registry), serve on HOST:PORT
SITE_URL ?= http://$(HOST):$(PORT)
run: install
	$(PY) manage.py migrate --noinput
	SITE_URL=$(SITE_URL) $(PY) manage.py load_demo $(if $(EMPTY),--empty-registry,)
	HOST=$(HOST) PORT=$(PORT) PY=$(PY) SITE_URL=$(SITE_URL) bash scripts/serve-dev.sh

## make test: the whole suite (SQLite unless DATABASE_URL is set)
test: install
	$(PY) -m pytest

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

## make bench: import 100,000-row CSV and XLSX files; numbers in bench/results.json
bench: install
	$(PY) bench/import_bench.py --rows 100000 --out bench/results.json

## make lock: re-pin requirements.lock after changing pyproject.toml
lock:
	rm -rf /tmp/campuspass-lock && $(PYTHON) -m venv /tmp/campuspass-lock
	/tmp/campuspass-lock/bin/pip install --quiet '.[dev]'
	/tmp/campuspass-lock/bin/pip freeze --exclude campuspass | sort -f > requirements.lock

## make clean-demo: delete the demo's SQLite database and its passwords (nothing else under var/)
clean-demo:
	rm -f var/campuspass.sqlite3* var/demo-credentials.json
