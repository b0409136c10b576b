# One entry point for the tools, identical locally and in CI. Every target creates .venv and installs
# what it needs when that is missing, so each works alone on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: help install check lint typecheck test clean

help:
	@echo "make check      lint + typecheck + test (what CI runs)"
	@echo "make lint       ruff"
	@echo "make typecheck  mypy --strict and pyright (strict)"
	@echo "make test       pytest with the branch-coverage gate"

$(DEV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(DEV_STAMP)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy
	$(BIN)/pyright

test: $(DEV_STAMP)
	$(BIN)/pytest --cov --cov-report=term

check: lint typecheck test

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage htmlcov build dist *.egg-info
