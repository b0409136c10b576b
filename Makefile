# One entry point for the tools, identical locally and in CI. Every target creates .venv and installs
# what it needs when that is missing, so each works alone on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_STAMP := $(VENV)/.dev-installed
BENCH_STAMP := $(VENV)/.bench-installed
DEMO_STAMP := $(VENV)/.demo-installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: help install demo check lint typecheck test bench docs package clean

help:
	@echo "make demo       train an MLP on scikit-learn's 8x8 digits; curves, graph, ONNX model in demo_output/"
	@echo "make check      lint + typecheck + test (what CI runs)"
	@echo "make lint       ruff"
	@echo "make typecheck  mypy --strict and pyright (strict)"
	@echo "make test       pytest with the branch-coverage gate"
	@echo "make bench      benchmarks vs a NumPy floor and PyTorch (BENCH_ARGS=--quick, or workload names)"
	@echo "make docs       the documentation site in site/ (mkdocs build --strict)"
	@echo "make package    sdist and wheel in dist/, checked with twine"

$(DEV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(DEV_STAMP)

# The demo needs only the library and its `demo` extra (scikit-learn, tqdm, matplotlib, and onnx,
# onnxruntime and safetensors for the exported model and weights).
$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

demo: $(DEMO_STAMP)
	$(BIN)/python -m examples.demo --out demo_output

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy
	$(BIN)/pyright

test: $(DEV_STAMP)
	$(BIN)/pytest --cov --cov-report=term

check: lint typecheck test

# The benchmarks need the `bench` extra (PyTorch, CPU build) on top of the dev tools. BLAS/OpenMP are
# pinned to one thread for every contender (benchmarks/__init__.py sets the same before any import).
$(BENCH_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(BENCH_STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m benchmarks $(BENCH_ARGS)

# The documentation site needs the `docs` extra (MkDocs, Material, mkdocstrings). Any warning fails
# the build; NO_MKDOCS_2_WARNING silences a banner Material prints about its successor.
$(DOCS_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# sdist and wheel, each checked for py.typed (the marker that makes checkers read the inline types).
package: $(DEV_STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(BIN)/python -m zipfile -l dist/*.whl | grep 'typed_dezero/py.typed' >/dev/null
	tar -tzf dist/*.tar.gz | grep 'typed_dezero/py.typed' >/dev/null

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage htmlcov build dist *.egg-info demo_output site
