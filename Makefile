# Set-up and everyday commands. `make demo` and `make test` install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints-3.11.txt
STAMP := $(VENV)/.installed

.PHONY: help install test lint format typecheck demo demo-dry-run up bench bench-airflow clean

help:
	@echo "make demo          run the DAG end to end against a local moto organisation"
	@echo "make demo-dry-run  the same run in audit (dry run) mode"
	@echo "make up            Airflow standalone (UI on :8080) against the demo organisation"
	@echo "make test          lint and the whole test suite"
	@echo "make bench         benchmarks: planning throughput; AWS calls of both scans (A=20 U=500)"
	@echo "make bench-airflow the whole DAG on airflow standalone (A=300 U=10)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements/dev.txt $(CONSTRAINTS)
	$(BIN)/pip install --quiet -r requirements/dev.txt -c $(CONSTRAINTS)
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadfile

demo: install
	$(BIN)/python -m deploy.demo.run

demo-dry-run: install
	$(BIN)/python -m deploy.demo.run --dry-run

up: install
	$(BIN)/python -m deploy.demo.run --standalone

bench: install
	$(BIN)/python -m tests.benchmarks.run
	$(BIN)/python -m tests.benchmarks.scan --accounts $(or $(A),20) --users $(or $(U),500)

bench-airflow: install
	$(BIN)/python -m tests.benchmarks.airflow_run --accounts $(or $(A),300) --users $(or $(U),10)

clean:
	rm -rf $(VENV) demo-output bench-output .pytest_cache .ruff_cache .mypy_cache
