# Set-up and everyday commands. `make demo` and `make test` install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints-3.11.txt
STAMP := $(VENV)/.installed

.PHONY: help install test test-system lint format typecheck demo demo-dry-run up bench clean

help:
	@echo "make demo          run the DAG end to end against a local moto organisation"
	@echo "make demo-dry-run  the same run in audit (dry run) mode"
	@echo "make up            Airflow (UI on 127.0.0.1:8080) against the demo organisation, dry runs"
	@echo "                   (ENFORCE=1: runs rotate keys; API_PORT=8081: another port)"
	@echo "make test          lint and the whole test suite"
	@echo "make test-system   real Airflow (API server, scheduler, Celery workers) against moto"
	@echo "make bench         benchmarks that print planning and scan throughput"

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
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not system"

# Airflow's own processes on 127.0.0.1; the Celery stage needs PostgreSQL and Redis there.
test-system: install
	$(BIN)/python -m pytest tests/system -m system

demo: install
	$(BIN)/python -m deploy.demo.run

demo-dry-run: install
	$(BIN)/python -m deploy.demo.run --dry-run

up: install
	$(BIN)/python -m deploy.demo.run --standalone $(if $(ENFORCE),--enforce) $(if $(API_PORT),--api-port $(API_PORT))

bench: install
	$(BIN)/python -m tests.benchmarks.run

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache .mypy_cache
