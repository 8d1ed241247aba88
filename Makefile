# Set-up and everyday commands. `make demo` and `make test` install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints-3.11.txt
STAMP := $(VENV)/.installed
# The Amazon MWAA Airflow versions of the support matrix, each with requirements/lock-<v>.txt.
MWAA_VERSIONS := 2.10.3 2.11.2 3.0.6 3.3.1
# What the support matrix runs on each version: the DAG and end-to-end suites, the MWAA
# bundle loaded in that version, and SMTP delivery through that version's smtp provider.
MATRIX_TESTS := tests/dags tests/deploy/test_mwaa_package.py tests/deploy/test_mwaa_bundle_loads.py \
	tests/keyrotation/notification/test_notification_smtp.py tests/keyrotation/test_compat.py

.PHONY: help install test test-matrix test-system lint format typecheck demo demo-dry-run \
	up bench bench-airflow mwaa-package clean

help:
	@echo "make demo              run the DAG end to end against a local moto organisation"
	@echo "make demo-dry-run      the same run in audit (dry run) mode"
	@echo "make up                Airflow (UI on 127.0.0.1:8080) against the demo organisation, dry runs"
	@echo "                       (ENFORCE=1: runs rotate keys; API_PORT=8081: another port)"
	@echo "make test              lint, type check and the whole test suite (Airflow 3.3.2)"
	@echo "make test AIRFLOW=<v>  the DAG and end-to-end suites on one MWAA version: $(MWAA_VERSIONS)"
	@echo "make test-matrix       the same on every MWAA version (builds .venv-<version>)"
	@echo "make test-system       real Airflow (API server, scheduler, Celery workers) against moto"
	@echo "make lint              ruff check and ruff format --check"
	@echo "make format            ruff format and ruff check --fix"
	@echo "make typecheck         mypy over the package"
	@echo "make bench             benchmarks: planning throughput; AWS calls of both scans (A=20 U=500)"
	@echo "make bench-airflow     the whole DAG on airflow standalone (A=300 U=10; CONCURRENT="
	@echo "                       ACCOUNTS_PER_TASK= PARALLELISM= MAX_MAP_LENGTH= set options, see README)"
	@echo "make mwaa-package      the MWAA bundle in dist/mwaa-<v> (MWAA_VERSION=<v>, default newest 3.x)"
	@echo "make install           only create .venv and install"
	@echo "make clean             remove the venvs and build output"

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

ifeq ($(filter-out 3.3.2,$(AIRFLOW)),)
test: lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not system"
else
test: test-airflow-$(AIRFLOW)
endif

test-matrix: $(addprefix test-airflow-,$(MWAA_VERSIONS))

# .venv-<v> from requirements/lock-<v>.txt (rebuilt when the lock changes), then the suites.
test-airflow-%:
	requirements/venv $*
	.venv-$*/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadfile $(MATRIX_TESTS)

# Airflow's own processes on 127.0.0.1; the Celery stage needs PostgreSQL and Redis there.
test-system: install
	$(BIN)/python -m pytest tests/system -m system

mwaa-package: install
	$(BIN)/python -m deploy.mwaa.package $(if $(MWAA_VERSION),--mwaa-version $(MWAA_VERSION))

demo: install
	$(BIN)/python -m deploy.demo.run

demo-dry-run: install
	$(BIN)/python -m deploy.demo.run --dry-run

up: install
	$(BIN)/python -m deploy.demo.run --standalone $(if $(ENFORCE),--enforce) $(if $(API_PORT),--api-port $(API_PORT))

bench: install
	$(BIN)/python -m tests.benchmarks.run
	$(BIN)/python -m tests.benchmarks.scan --accounts $(or $(A),20) --users $(or $(U),500)

# Optional: CONCURRENT (max_concurrent_accounts), PARALLELISM, MAX_MAP_LENGTH (Airflow's).
bench-airflow: install
	$(BIN)/python -m tests.benchmarks.airflow_run --accounts $(or $(A),300) --users $(or $(U),10) \
		$(if $(CONCURRENT),--concurrent-accounts $(CONCURRENT)) \
		$(if $(ACCOUNTS_PER_TASK),--accounts-per-task $(ACCOUNTS_PER_TASK)) \
		$(if $(PARALLELISM),--parallelism $(PARALLELISM)) \
		$(if $(MAX_MAP_LENGTH),--max-map-length $(MAX_MAP_LENGTH))

clean:
	rm -rf $(VENV) .venv-* demo-output bench-output dist .pytest_cache .ruff_cache .mypy_cache
