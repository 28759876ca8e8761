# The doors in: `make run` serves the API, `make test` proves it, `make lint` checks it,
# `make bench` measures it. Each installs what it needs into .venv from nothing.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(PY) -m pip

.PHONY: help install install-dev run migrate superuser test lint format bench clean

help:
	@echo "make run     - install, migrate, serve on http://localhost:8000 (PORT in .env or the environment) + a worker"
	@echo "make test    - install dev dependencies and run the whole suite"
	@echo "make lint    - ruff, ruff format --check, mypy, makemigrations --check"
	@echo "make bench   - benchmarks against a hand-written ceiling (PostgreSQL)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# A local .env with a freshly generated SECRET_KEY, made once from .env.example.
.env:
	@key=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))'); \
	sed "s|^SECRET_KEY=.*|SECRET_KEY=$$key|" .env.example > .env
	@echo "Wrote .env with a new SECRET_KEY (edit it to configure the server)."

migrate: $(VENV)/.installed .env
	$(PY) manage.py migrate --noinput

# The API and one background worker (webhook deliveries, retries, purges); Ctrl-C stops both.
run: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@$(PY) manage.py worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --config gunicorn.conf.py opply.wsgi

superuser: migrate
	$(PY) manage.py createsuperuser

PYTEST_ARGS ?=
# The reverse-proxy tests need Debian's nginx (installed here when missing, as root).
test: $(VENV)/.installed-dev
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light) \
		|| echo "WARNING: nginx could not be installed; the reverse-proxy tests will be skipped"
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=lint-only $(BIN)/mypy .
	SECRET_KEY=lint-only $(PY) manage.py makemigrations --check --dry-run

$(VENV)/.installed-bench: requirements.txt requirements-bench.txt | $(PY)
	$(PIP) install --quiet -r requirements-bench.txt
	touch $(VENV)/.installed $@

# PostgreSQL from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/opply_bench, whose
# tables the run empties and refills); writes docs/benchmarks.md and docs/benchmarks.png.
bench: $(VENV)/.installed-bench
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(PY) bench/run.py

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache
