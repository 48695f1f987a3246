# simgate: build, run and test.
#
#   make run      install into .venv, then `simgate demo` (migrated ./simgate.db, demo account,
#                 API key printed, server and a simulated phone on http://$(HOST):$(PORT))
#   make test     install, start PostgreSQL, install Debian's chromium and nginx, lint, then
#                 pytest on TEST_WORKERS processes
#   make lint     ruff on simgate/ tests/ benchmarks/, mypy --strict on simgate/
#   make assets   Swagger UI, ReDoc and htmx (the dashboard) from npm (package-lock.json) into
#                 simgate/web/static/vendor/
#   make dist     sdist and wheel into dist/ (assets included: /docs works offline)
#   make bench    run every benchmarks/*.py (each prints JSON)
#   make clean    caches and build output; `make distclean` also removes .venv
#
# Variables: PY (interpreter that creates .venv, Python >= 3.11), HOST, PORT,
# SIMGATE_TEST_PG_URL (the PostgreSQL the tests use), PYTEST_ARGS (extra pytest arguments),
# TEST_WORKERS (pytest-xdist processes; 1 runs the suite in this process).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := install
MAKEFLAGS += --no-print-directory

PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 8000

PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
PG_WAIT_SECONDS ?= 30
SIMGATE_TEST_PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
export SIMGATE_TEST_PG_URL

CHROMIUM ?= /usr/bin/chromium
# The deploy tests run deploy/nginx.conf in a real nginx (installed, never started as a service).
NGINX ?= /usr/sbin/nginx
PYTEST_ARGS ?=
# Most of the suite waits (servers, subprocesses, browsers, PostgreSQL): four workers keep two
# cores busy. Each worker gets its own databases; a test file stays on one worker (its
# module-scoped servers are started once).
TEST_WORKERS ?= 4

# Lint only the folders that exist: git does not keep an empty benchmarks/ in a fresh clone.
LINT_PATHS := $(wildcard simgate tests benchmarks)

VENDOR := simgate/web/static/vendor
ASSETS_STAMP := $(VENDOR)/.installed

.PHONY: venv install assets run pg browser lint test bench dist clean distclean

# --- environment ------------------------------------------------------------------------------

venv: $(BIN)/python

$(BIN)/python:
	@$(PY) -c 'import sys; sys.exit(0) if sys.version_info >= (3, 11) else sys.exit("simgate needs Python >= 3.11; $(PY) is " + sys.version.split()[0] + " (use make PY=python3.11)")'
	@echo "creating $(VENV) with $(PY)"
	@$(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -qq --disable-pip-version-check --upgrade pip

install: $(STAMP) $(ASSETS_STAMP)

assets: $(ASSETS_STAMP)

# The API docs pages (/docs, /redoc) and the dashboard load these from simgate itself, never
# from a CDN. Third-party code is a dependency, not copied into git: npm installs the locked
# versions, and only the files the pages load (and their licences) are copied into the
# git-ignored vendor folder. axe-core (a devDependency) stays in node_modules: only the tests
# inject it into pages.
$(ASSETS_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "make assets: npm is needed (apt-get install npm)" >&2; exit 1; }
	@echo "npm ci (Swagger UI, ReDoc, htmx; axe-core for the tests)"
	@npm ci --ignore-scripts --no-audit --no-fund --omit=peer --loglevel=error
	@rm -rf $(VENDOR) && mkdir -p $(VENDOR)/swagger-ui $(VENDOR)/redoc $(VENDOR)/htmx
	@cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE,NOTICE} $(VENDOR)/swagger-ui/
	@cp node_modules/redoc/bundles/{redoc.standalone.js,redoc.standalone.js.LICENSE.txt} $(VENDOR)/redoc/
	@cp node_modules/redoc/LICENSE $(VENDOR)/redoc/LICENSE
	@cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx.org/LICENSE $(VENDOR)/htmx/
	@touch $@

# Reinstall only when pyproject.toml changed since the last successful install. -qq keeps
# setuptools' build chatter out of every run; pip's errors still print.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "pip install -e '.[server,dev]'"
	@$(BIN)/python -m pip install -qq --disable-pip-version-check -e '.[server,dev]'
	@touch $@

run: install
	$(BIN)/simgate demo --host $(HOST) --port $(PORT)

# --- services the tests use -------------------------------------------------------------------

pg:
	@pg_isready -h $(PG_HOST) -p $(PG_PORT) -q || \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true
	@for _ in $$(seq $(PG_WAIT_SECONDS)); do \
		pg_isready -h $(PG_HOST) -p $(PG_PORT) -q && exit 0; \
		sleep 1; \
	done; \
	echo "make pg: PostgreSQL is not answering on $(PG_HOST):$(PG_PORT) after $(PG_WAIT_SECONDS) s" >&2; \
	pg_lsclusters >&2 || true; \
	exit 1

browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(NGINX) ]; then \
		if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
		echo "installing Debian's chromium and nginx (apt-get)"; \
		log=$$(mktemp); \
		if ! { $$sudo apt-get update -qq && \
		       $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx; } \
		       >"$$log" 2>&1; then \
			cat "$$log" >&2; rm -f "$$log"; \
			echo "make browser: apt-get install chromium nginx failed" >&2; exit 1; \
		fi; \
		rm -f "$$log"; \
		[ -x $(CHROMIUM) ] || { echo "make browser: $(CHROMIUM) still missing" >&2; exit 1; }; \
		[ -x $(NGINX) ] || { echo "make browser: $(NGINX) still missing" >&2; exit 1; }; \
	fi

# --- checks -----------------------------------------------------------------------------------

# Both tools run even when the first fails, so one pass shows every problem.
lint: install
	@status=0; \
	$(BIN)/ruff check --quiet $(LINT_PATHS) || status=1; \
	$(BIN)/mypy simgate || status=1; \
	exit $$status

test: install pg browser
	@$(MAKE) lint
	$(BIN)/python -m pytest -q $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

bench: install
	@for script in benchmarks/[!_]*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script" >&2; \
		$(BIN)/python "$$script"; \
	done

# --- packaging --------------------------------------------------------------------------------

# The server wheel and sdist (with the docs assets); the same wheel installs light on a phone
# (`pip install simgate-*.whl`, no extra) and full on a server (`pip install 'simgate-*.whl[server]'`).
dist: install
	@rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	@ls -1 dist

# --- housekeeping -----------------------------------------------------------------------------

clean:
	@rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
	@find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	@rm -rf $(VENV) node_modules $(VENDOR)
