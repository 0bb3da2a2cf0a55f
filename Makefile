# Pilcrow: `make run` sets up and opens the tool on corpus/; `make test` sets up and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup setup-ray run index test test-ray lint bench bench-release eval clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Optional: Ray for `qa index --ray` (docs/scale.md); not part of `make run` or `make test`.
setup-ray: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'

run: setup
	$(BIN)/qa index --corpus corpus --index index
	$(BIN)/qa tui --index index

index: setup
	$(BIN)/qa index --corpus corpus --index index

test: setup
	$(BIN)/ruff check qa tui tests benchmarks
	$(BIN)/pytest -q

# The tests of `qa index --ray` on a local Ray cluster (CI runs them after `make test`).
test-ray: setup-ray
	$(BIN)/pytest -q -m ray

lint: setup
	$(BIN)/ruff check qa tui tests benchmarks
	$(BIN)/ruff format --check qa tui tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

eval: setup
	$(BIN)/qa index --corpus ../shared/corpus/cablegate --index bench-data/cables-index
	$(BIN)/qa eval ../shared/eval/cables-dev.jsonl --index bench-data/cables-index --mode all

# make bench BENCH_ARGS=--quick for the ~15 min version (docs/benchmarks.md)
bench: setup
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# Issue #12: the whole release (synthetic, from ../shared's sample) with a stand-in model;
# needs bench-data/cables-index (make eval builds it). ~12 GB of HTML at 250k cables.
# make bench-release BENCH_ARGS="--cables 20000 --profile"; BENCH_ARGS=--model-throughput
bench-release: setup
	$(BIN)/python -m benchmarks.bench_release $(or $(BENCH_ARGS),--cables 250000)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
