# Two commands do everything on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export NO_MKDOCS_2_WARNING := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup model serve build test bench lint format clean page

setup: model

# Reinstall only when pyproject.toml changed since the last install.
$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

model: $(INSTALLED)
	@$(BIN)/python -m snippets fetch

serve: setup
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

build: setup
	$(BIN)/mkdocs build --strict --site-dir site

# The whole suite, with the coverage gate: every line and branch of the page code and the
# machinery runs. `pytest tests/test_x.py` alone runs one file without the gate.
COVERAGE := --cov=snippets --cov=state_simulators --cov-report=term-missing:skip-covered --cov-fail-under=100

test: setup
	$(BIN)/python -m pytest $(COVERAGE)

# Times builds, reloads, model loads and the tests; writes the table into docs/performance.md.
bench: setup
	$(BIN)/python -m bench.bench

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# make page NAME=my-idea [TITLE="My idea"] [SECTION=Experiments]: a new page that passes the tests.
page: $(INSTALLED)
	@$(BIN)/python scripts/new_page.py --name="$$NAME" --title="$$TITLE" --section="$$SECTION"

clean:
	rm -rf site .cache/artifacts
