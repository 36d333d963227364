# Jiayuan — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1
# Two test processes (pytest-xdist), each with its own seeded test database; a file
# stays in one process, so its module fixtures (an ingest subprocess, a broker client)
# are set up once. `make test PARALLEL=` runs in one process.
PARALLEL ?= -n 2 --dist loadfile

.PHONY: demo test setup test-unit test-browser lint browser-deps bench clean

demo: setup
	$(BIN)/jiayuan demo

test: setup browser-deps lint
	$(BIN)/pytest -m "not browser" $(PARALLEL)
	$(BIN)/pytest -m browser

test-unit: setup
	$(BIN)/pytest -m "not browser" $(PARALLEL)

test-browser: setup browser-deps
	$(BIN)/pytest -m browser

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/jiayuan makemigrations --check --dry-run

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian's Chromium and a CJK font for the browser tests (Playwright never downloads one);
# LibreOffice Calc and poppler-utils for the test that opens a report's XLSX as a PDF.
browser-deps:
	@command -v chromium >/dev/null 2>&1 && fc-list :lang=zh | grep -q . || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; }
	@command -v soffice >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libreoffice-calc-nogui poppler-utils; }

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) node_modules var/*.sqlite3* .pytest_cache .mypy_cache .ruff_cache
