# Two commands on a fresh machine with Python 3.11 and make:
#   make run    create .venv, install from the lock, migrate, seed the demo, serve on 127.0.0.1:8000
#   make test   the whole test suite (SQLite, tasks in-process)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/dev.lock
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate seed serve lint format check-migrations worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	touch $@

install: $(VENV)/.installed

migrate: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput

seed: migrate
	DEBUG=1 $(BIN)/python manage.py seed_demo

run: seed
	@echo "Serving Chargeback on http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-migrations: install
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

worker: install
	$(BIN)/celery -A chargeback worker -l info

clean:
	rm -rf $(VENV) var staticfiles artifacts
