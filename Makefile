# Two commands do everything on a fresh Debian/Ubuntu machine (root, no Docker engine):
#   make demo   install, start PostgreSQL + PostGIS, load and run the demo, serve the app
#               with a worker and a local mail sink (notices as files in var/demo/mail)
#   make test   install, start the test database, run ruff, the import contracts, mypy and
#               the whole test suite
# With DATABASE_URL set, that database is used and nothing else is touched.

VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= var/demo
SEED ?= 7
HOST ?= 127.0.0.1
PORT ?= 8000
SMTP_PORT ?= 2525

.PHONY: install demo test lint typecheck db serve bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || "$$(scripts/ensure_python.sh)" -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

db:
	@scripts/ensure_db.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	@scripts/ensure_chromium.sh
	DATABASE_URL="$$(scripts/ensure_db.sh --fresh fieldrecall_test)" $(BIN)/pytest -q -p no:cacheprovider

demo: install
	DATABASE_URL="$$(scripts/ensure_db.sh)" $(BIN)/fieldrecall demo run \
		--dir $(DEMO_DIR) --seed $(SEED) --host $(HOST) --port $(PORT) --smtp-port $(SMTP_PORT)

serve: install
	DATABASE_URL="$$(scripts/ensure_db.sh)" $(BIN)/fieldrecall serve --host $(HOST) --port $(PORT)

bench: install
	$(BIN)/pip install -q -e ".[bench]"
	@echo "benchmarks are run one by one, e.g.: $(BIN)/python benchmarks/import_units.py"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
