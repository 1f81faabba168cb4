# The two commands of the README: `make demo` and `make test`.
# Both install what they need: Debian packages, a virtualenv, the package.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CONFORMANCE ?= ../shared/conformance

.PHONY: demo test lint bench conformance system-deps clean

demo: system-deps $(STAMP)
	GRIDFS=$(CURDIR)/$(BIN)/gridfs PYTHON=$(CURDIR)/$(BIN)/python ./examples/demo.sh

test: system-deps $(STAMP) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check gridfs tests benchmarks
	$(BIN)/ruff format --check gridfs tests benchmarks
	$(BIN)/mypy

bench: system-deps $(STAMP)
	$(BIN)/python benchmarks/read_throughput.py
	$(BIN)/python benchmarks/catalog.py
	$(BIN)/python benchmarks/storage.py
	$(BIN)/python benchmarks/replicate.py
	$(BIN)/python benchmarks/mount.py
	$(BIN)/python benchmarks/remote_reads.py
	$(BIN)/python benchmarks/large_file.py
	$(BIN)/python benchmarks/bookkeeping.py
	$(BIN)/python benchmarks/service.py
	$(BIN)/python benchmarks/analysis.py

# pjdfstest's 12 core groups on a fresh mount (root; not part of `make test`): see README.
conformance: system-deps $(STAMP)
	CONFORMANCE=$(CONFORMANCE) GRIDFS=$(CURDIR)/$(BIN)/gridfs ./scripts/conformance

system-deps:
	./scripts/install-system-deps

$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	if mountpoint -q demo/grid; then fusermount3 -u demo/grid; fi
	rm -rf $(VENV) demo .pytest_cache .ruff_cache
