# handoff: `make run` to try it, `make test` to test it. Needs only python3.11 and make; the rest goes into .venv.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The embedded default: SQLite under var/, kombu's filesystem broker, console e-mail. Not DEBUG: errors are the app's
# own pages, never Django's debug page; static files are collected and served by WhiteNoise as in production; the
# secret key is generated once into var/secret_key (readable by you only) and kept, so sessions survive a restart.
SECRET_KEY_FILE ?= var/secret_key
DEV := env DEBUG=0 SECRET_KEY_FILE=$(SECRET_KEY_FILE)
MANAGE := $(DEV) $(BIN)/python manage.py
RUFF := $(firstword $(wildcard $(BIN)/ruff) $(shell command -v ruff 2>/dev/null))

.DEFAULT_GOAL := help
.PHONY: help venv run web worker migrate static seed test test-instants test-browser lint clean distclean

help:
	@echo "make run        set up .venv, migrate, load demo data, start web + worker + beat (Ctrl-C stops all)"
	@echo "make test       run the whole test suite (extra pytest arguments: PYTEST_ARGS='-x -k sla')"
	@echo "make test-instants  the SLA, page and API tests once at each of several frozen instants (HANDOFF_TEST_NOW)"
	@echo "make test-browser   the browser tests alone (Playwright + chromium; needs DATABASE_URL, PostgreSQL)"
	@echo "make migrate    apply database migrations"
	@echo "make seed       load the demo data (idempotent) and print the demo logins"
	@echo "make web        the web app alone (gunicorn on $(HOST):$(PORT))"
	@echo "make worker     a Celery worker with embedded beat"
	@echo "make lint       ruff, when installed"
	@echo "make clean      remove caches and collected static files; make distclean also removes .venv and var/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when requirements.txt is newer than the last install.
$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(STAMP)

$(SECRET_KEY_FILE): | $(BIN)/python
	@mkdir -p $(dir $@)
	@umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(64))" > $@
	@echo "Generated a secret key in $@ (kept for the next runs)."

migrate: $(STAMP) $(SECRET_KEY_FILE)
	$(MANAGE) migrate --noinput

static: $(STAMP) $(SECRET_KEY_FILE)
	$(MANAGE) collectstatic --noinput --verbosity 0

seed: migrate
	$(MANAGE) seed_demo

# exec: make's child is the supervisor itself, so Ctrl-C and a SIGTERM to make reach it and it stops the rest.
run: migrate static
	exec $(MANAGE) run_embedded --host $(HOST) --port $(PORT)

web: migrate static
	exec $(DEV) $(BIN)/python -m gunicorn -c config/gunicorn.py --bind $(HOST):$(PORT) config.wsgi

worker: migrate static
	exec $(DEV) $(BIN)/celery -A config worker -B -l info

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# Each role's flows in chromium, driven by Playwright (tests/browser): installs requirements-browser.txt; they run on
# PostgreSQL only (DATABASE_URL) and skip, saying why, without chromium (apt-get install chromium) or playwright.
test-browser: $(STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-browser.txt
	$(BIN)/pytest tests/browser $(PYTEST_ARGS)

# No test may pass only by the hour it runs at: tests/at_instants.sh lists the instants (weekday hours, evenings,
# weekends, DST changes, public holidays) and runs tests/sla, tests/views and tests/api at each.
test-instants: $(STAMP)
	PYTEST=$(BIN)/pytest PYTEST_ARGS="$(PYTEST_ARGS)" tests/at_instants.sh

lint:
ifeq ($(RUFF),)
	@echo "ruff is not installed (pip install ruff, or put it on PATH): nothing checked."
else
	$(RUFF) check .
endif

clean:
	rm -rf staticfiles .pytest_cache .hypothesis .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) var
