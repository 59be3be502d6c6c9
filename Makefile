# Set-up and entry points. `make demo` and `make test` work on a fresh machine: they create
# .venv from the project's own files (setup.cfg extras), install the HEASARC FITS tools
# (fitsverify, CFITSIO's fitscopy), jq (used in the README's examples), Debian's chromium
# (the browser tests; never `playwright install`), nginx and wrk (the deployment test and the
# scale benchmark) with apt when run as root, and axe-core
# (the browser tests' accessibility check) from npm, pinned by package-lock.json.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The two screenshots the README shows (names given to tests/ui's screenshot helper).
README_SCREENSHOTS ?= instrument search

.PHONY: demo serve-demo test coverage lint install system-deps node-deps screenshots benchmarks clean

$(INSTALLED): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[server,pipeline,dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

# The Debian packages, installed when one of their commands is missing; chromium without its
# recommends (upower, a notification daemon, Mesa: nothing a headless browser uses) but with
# fonts-liberation, so that pages and screenshots have real glyphs. npm only where it is
# missing: a Node.js from elsewhere brings its own, which Debian's npm package conflicts with.
system-deps:
	@if ! command -v fitsverify >/dev/null || ! command -v fitscopy >/dev/null \
	    || ! command -v jq >/dev/null || ! command -v chromium >/dev/null \
	    || ! command -v nginx >/dev/null || ! command -v wrk >/dev/null \
	    || ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends fitsverify libcfitsio-bin jq chromium fonts-liberation nginx wrk >/dev/null; \
	    command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm >/dev/null; \
	  else \
	    echo "note: fitsverify, fitscopy, jq, chromium, nginx, wrk or npm is missing;" \
	         "the tests that need them will be skipped"; \
	  fi; \
	fi

# node_modules/ (git-ignored) from package-lock.json; skipped, with a note, without npm.
node-deps: system-deps
	@if ! command -v npm >/dev/null; then \
	  echo "note: npm is missing; the browser tests' accessibility checks will be skipped"; \
	elif [ ! -f node_modules/.package-lock.json ] \
	    || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo .importlinter

# The suite on two workers; the slowest tests are listed at the end (CI has a time budget).
test: install system-deps node-deps lint
	$(BIN)/pytest -n auto --durations=15

# The same suite with branch coverage, failing below setup.cfg's floor: a third longer under
# the tracer, so run on demand rather than in `make test`.
coverage: install system-deps node-deps
	$(BIN)/pytest -n auto --cov

# The README's screenshots: the browser tests write every page's screenshot to
# demo-output/screenshots/; this copies the ones the README shows into docs/screenshots/.
screenshots: install system-deps node-deps
	$(BIN)/pytest -q -n 0 -p no:cacheprovider tests/ui
	mkdir -p docs/screenshots
	cp $(README_SCREENSHOTS:%=demo-output/screenshots/%.png) docs/screenshots/

demo: install system-deps
	$(BIN)/python scripts/demo.py

# The instance `make demo` built, served for a browser at http://127.0.0.1:5000/ (Ctrl-C stops).
serve-demo: install
	@test -d demo-output/instance || { echo "run 'make demo' first"; exit 2; }
	CALDB_INSTANCE_PATH=demo-output/instance $(BIN)/caldb-server serve --port 5000

benchmarks: install
	$(BIN)/python benchmarks/bench_search.py
	$(BIN)/python benchmarks/bench_bricks.py
	$(BIN)/python benchmarks/bench_localization.py
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_hdus.py
	$(BIN)/python benchmarks/bench_cli_startup.py
	$(BIN)/python benchmarks/bench_ui_pages.py
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_campaign.py

clean:
	rm -rf $(VENV) node_modules demo-output .pytest_cache .ruff_cache .hypothesis .mypy_cache .coverage .coverage.*
