# advbook: one-command set-up, tests and benchmark.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test lint bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt requirements-peer.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-test.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-peer.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

test: setup
	$(BIN)/ruff check advlib tests
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check advlib tests

bench: setup
	$(BIN)/advlib bench

clean:
	rm -rf $(VENV) _build runs .pytest_cache .ruff_cache
