# Two commands do all set-up on a fresh machine (Python 3.11 + PyPI only):
#   make demo   closes the bundled sample periods into outputs/
#   make test   runs unit, property, end-to-end and notebook (nbval) tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/arlib demo

test: $(STAMP)
	bash scripts/system_packages.sh
	$(BIN)/ruff check arlib tests benchmarks
	$(BIN)/ruff format --check arlib tests benchmarks
	$(BIN)/pytest -n 2 -q tests
	$(BIN)/pytest -q --nbval notebooks --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:randomly

lint: $(STAMP)
	$(BIN)/ruff check arlib tests benchmarks
	$(BIN)/ruff format --check arlib tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format arlib tests benchmarks
	$(BIN)/ruff check --fix arlib tests benchmarks

bench: $(STAMP)
	bash scripts/system_packages.sh
	-$(BIN)/python benchmarks/match_quality.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/close.py
	$(BIN)/python benchmarks/statements.py
	$(BIN)/python benchmarks/exception_confusion.py
	$(BIN)/python benchmarks/reconcile_scale.py
	$(BIN)/python benchmarks/database_read.py

clean:
	rm -rf outputs .pytest_cache
