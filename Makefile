# Set-up and entry points. `make demo` and `make test` work on a fresh machine: they create
# .venv from the project's own files (setup.cfg extras) and install the HEASARC FITS tools
# (fitsverify, CFITSIO's fitscopy) and jq (used in the README's examples) with apt when run as root.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint install system-deps benchmarks clean

$(INSTALLED): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[server,pipeline,dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

system-deps:
	@if ! command -v fitsverify >/dev/null || ! command -v fitscopy >/dev/null \
	    || ! command -v jq >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq fitsverify libcfitsio-bin jq >/dev/null; \
	  else \
	    echo "note: fitsverify/fitscopy/jq are missing; the tests that need them will be skipped"; \
	  fi; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo .importlinter

test: install system-deps lint
	$(BIN)/pytest -n auto --cov

demo: install system-deps
	$(BIN)/python scripts/demo.py

benchmarks: install
	$(BIN)/python benchmarks/bench_search.py
	$(BIN)/python benchmarks/bench_bricks.py
	$(BIN)/python benchmarks/bench_localization.py
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_hdus.py
	$(BIN)/python benchmarks/bench_cli_startup.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache .hypothesis .mypy_cache .coverage .coverage.*
