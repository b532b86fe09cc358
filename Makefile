# CampusPass — the two commands of the README, and a few more.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint bench bench-full bench-import bench-import-pg bench-import-concurrency bench-queue soak soak-quick deploy-replay lock clean-demo

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
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

## make bench: the product benchmark at the quick size (20,000 passes; a few minutes; pages with wrk,
## then the whole renewal flow with 4 and 8 concurrent staff) on a fresh
## SQLite file, or on BENCH_DATABASE_URL (WIPED first) with BENCH_REDIS_URL; writes
## bench/results.json and docs/performance.md with its plots (docs/performance/)
bench: install
	$(PY) bench/run.py --quick

## make bench-full: 1,000,000 passes and 500,000 orders (PostgreSQL: set BENCH_DATABASE_URL)
BENCH_FULL_ARGS ?=
bench-full: install
	$(PY) bench/run.py $(BENCH_FULL_ARGS)

## make bench-import: import 100,000-row CSV and XLSX files into fresh SQLite; bench/import.json
bench-import: install
	$(PY) bench/import_bench.py --rows 100000 --out bench/import.json

## make bench-import-pg: import a 100,000-row CSV into PostgreSQL (database BENCH_PG_DB at BENCH_PG,
## emptied first); bench/import_pg.json. With BENCH_IMPORT_ROWS=N (not 100000) it writes
## bench/import_pg_scratch-N.json instead, the "memory by file size" table of docs/performance.md.
BENCH_PG_DB ?= cp_import
BENCH_IMPORT_ROWS ?= 100000
BENCH_IMPORT_PG_OUT = $(if $(filter 100000,$(BENCH_IMPORT_ROWS)),bench/import_pg.json,bench/import_pg_scratch-$(BENCH_IMPORT_ROWS).json)
bench-import-pg: install
	$(PY) bench/import_bench.py --rows $(BENCH_IMPORT_ROWS) --kinds csv --pg $(BENCH_PG)/$(BENCH_PG_DB) --out $(BENCH_IMPORT_PG_OUT)

## make bench-import-concurrency: OTP and payment-notification latency during a 100,000-row import
## (SQLite, and PostgreSQL at BENCH_PG); numbers in bench/import_concurrency.json
BENCH_PG ?= postgres://postgres@127.0.0.1:5432
bench-import-concurrency: install
	$(PY) bench/import_concurrency.py --pg $(BENCH_PG)

## make bench-queue: task throughput with 1, 2 and 4 workers on PostgreSQL; bench/queue.json
bench-queue: install
	$(PY) bench/queue_bench.py --pg $(BENCH_PG)

## make soak: nginx in front of two app hosts (network namespaces when run as root), two task workers
## and a scheduler on PostgreSQL + Redis with the production settings; 400 staff renew through HTTP
## while the payment simulator duplicates, delays and reorders notifications and one app server and
## one worker are killed with kill -9; then independent SQL checks. ~8 min; bench/soak.json; exit 1
## if a check fails. SOAK_DB is DROPPED and created again, SOAK_REDIS flushed.
## make soak-quick: the same with 120 staff (~5 min); var/soak-quick.json
SOAK_PG ?= postgres://postgres@127.0.0.1:5432
SOAK_DB ?= cp_soak
SOAK_REDIS ?= redis://127.0.0.1:6379/3
soak: install
	$(PY) bench/soak.py --pg $(SOAK_PG) --db $(SOAK_DB) --redis $(SOAK_REDIS)

soak-quick: install
	$(PY) bench/soak.py --quick --pg $(SOAK_PG) --db $(SOAK_DB) --redis $(SOAK_REDIS)

## make deploy-replay: follow README "Running it for real" in a throw-away directory and database
deploy-replay:
	bash scripts/replay-deploy.sh

## make lock: re-pin requirements.lock after changing pyproject.toml
lock:
	rm -rf /tmp/campuspass-lock && $(PYTHON) -m venv /tmp/campuspass-lock
	/tmp/campuspass-lock/bin/pip install --quiet '.[dev,aliyun,tencent]'
	/tmp/campuspass-lock/bin/pip freeze --exclude campuspass | sort -f > requirements.lock

## make clean-demo: delete the demo's SQLite database and its passwords (nothing else under var/)
clean-demo:
	rm -f var/campuspass.sqlite3* var/demo-credentials.json
