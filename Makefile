# Everyday tasks. `make demo` and `make test` are the two set-up commands of the README.
# The venv's interpreter: the distribution's python3 where it is 3.11 or newer and has venv
# (Debian and Ubuntu build it with PGO and LTO: the pipeline runs about 15-20 % faster on it
# than on a plain source build such as pyenv's default), else the first python3 on PATH.
# `make PYTHON=...` chooses another; an existing .venv keeps the interpreter it was made with.
SYSTEM_PYTHON := /usr/bin/python3
PYTHON ?= $(shell $(SYSTEM_PYTHON) -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo $(SYSTEM_PYTHON) || echo python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit system-deps model train bench clean wheel

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The shipped models are rebuilt only when they are missing.
models/topics/ikz-model.json: | $(STAMP)
	$(BIN)/ikz-inbox train --model topics

models/kinds/kind-model.json: | $(STAMP)
	$(BIN)/ikz-inbox train --model kinds

models/grouping/pairs.json: | $(STAMP)
	$(BIN)/ikz-inbox train --model grouping

model: models/topics/ikz-model.json models/kinds/kind-model.json models/grouping/pairs.json

## demo: set up, import the sample inbox into var/ikz-inbox.sqlite3, write var/briefing.{html,md}
demo: $(STAMP) model
	$(BIN)/ikz-inbox import examples/inbox
	$(BIN)/ikz-inbox briefing

## test: set up (incl. Dovecot, Chromium, PostgreSQL where root), lint, type-check, run all tests
# It also prints the line coverage of src/ikz_inbox (this process only, not the worker processes)
test: $(STAMP) system-deps lint typecheck
	$(BIN)/pytest --cov=ikz_inbox --cov-report=term:skip-covered

system-deps:
	bash scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

train: $(STAMP)
	$(BIN)/ikz-inbox train

## wheel: build dist/ikz_inbox-*.whl with config/ and models/ inside (see setup.py)
wheel: $(STAMP) model
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation -w dist .

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
