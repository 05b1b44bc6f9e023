# Two commands do everything on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export NO_MKDOCS_2_WARNING := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup model serve build test clean

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

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf site .cache/artifacts
