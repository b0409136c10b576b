# One entry point for the tools, identical locally and in CI. Every target creates .venv and installs
# what it needs when that is missing, so each works alone on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_STAMP := $(VENV)/.dev-installed
BENCH_STAMP := $(VENV)/.bench-installed
DEMO_STAMP := $(VENV)/.demo-installed

.PHONY: help install demo check lint typecheck test bench clean

help:
	@echo "make demo       train an MLP on scikit-learn's 8x8 digits; curves and graph in demo_output/"
	@echo "make check      lint + typecheck + test (what CI runs)"
	@echo "make lint       ruff"
	@echo "make typecheck  mypy --strict and pyright (strict)"
	@echo "make test       pytest with the branch-coverage gate"
	@echo "make bench      benchmarks vs a NumPy floor and PyTorch (BENCH_ARGS=--quick, or workload names)"

$(DEV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(DEV_STAMP)

# The demo needs only the library and its `demo` extra (scikit-learn, tqdm, matplotlib).
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

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage htmlcov build dist *.egg-info demo_output
