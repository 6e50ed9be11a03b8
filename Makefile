# The single entry point for people, the README and CI.
# Everything the project needs is installed by these targets from the package registries:
# a venv (PyPI), Kafka jars (Maven Central, devstack/kafka/pom.xml), FerretDB (Go module proxy).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: help venv build-stack stack-up stack-down stack-status stack-purge run test test-fast lint lint-deploy schemas bench faults soak demo operating-plots fuzz-api clean

help:
	@echo "make run        - start the local stack (if no servers are configured) and the service"
	@echo "make test       - install everything, start the servers, run the whole suite, stop them"
	@echo "make lint       - ruff, mypy, import-linter, and the Helm chart, alerts, dashboard (deploy/check.sh)"
	@echo "make stack-up / stack-down / stack-status - the local Kafka + FerretDB stack"
	@echo "make stack-purge - stop it and delete its data (a stack grown large starts slowly)"
	@echo "make bench / faults / demo - benchmark, fault suite, demo publisher"
	@echo "make soak       - 3 instances, 100k+ facts, 10 minutes of random faults, exact check"
	@echo "make operating-plots - a run watched through /metrics: docs/operating-*.png"
	@echo "make fuzz-api   - schemathesis against the served OpenAPI document, many examples"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

build-stack: venv
	$(BIN)/python -m devstack build

stack-up: venv
	$(BIN)/python -m devstack up

stack-down:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m devstack down; else $(PYTHON) -m devstack down; fi

stack-status: venv
	$(BIN)/python -m devstack status

# Stops the stack and deletes its data and logs (topics, databases); the next start is fresh.
stack-purge:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m devstack down --purge; else $(PYTHON) -m devstack down --purge; fi

# Starts the local stack unless BATCH_SERVICE_KAFKA_BOOTSTRAP / BATCH_SERVICE_MONGODB_URI point elsewhere,
# then runs the service in the foreground (Ctrl-C stops it; `make stack-down` stops the stack).
# HTTP on BATCH_SERVICE_HTTP_PORT (8080); the API accepts every call as an admin here unless
# BATCH_SERVICE_API_AUTH=jwt is set (local use: the log says so loudly).
run: venv
	BATCH_SERVICE_API_AUTH=$${BATCH_SERVICE_API_AUTH:-disabled} \
	  $(BIN)/python -m devstack exec -- $(BIN)/batch-service run

test: venv build-stack
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	bash deploy/check.sh

# The Helm chart, alert rules, dashboard, Dockerfile and compose file (deploy/check.sh; the first
# run builds a pinned helm into deploy/.bin with go install, a few minutes).
lint-deploy: venv
	bash deploy/check.sh

schemas: venv
	$(BIN)/python -m schemas.export
	$(BIN)/python -m schemas.asyncapi
	$(BIN)/python -m api.openapi

# Figures and ratios against the real local stack (issue 5); under 10 minutes.
bench: venv build-stack
	$(BIN)/python -m devstack exec -- $(BIN)/python -m bench $(BENCH_ARGS)

# Every fault scenario, with a table (issue 6); the fast subset also runs in `make test`.
faults: venv build-stack
	$(BIN)/python -m devstack exec -- $(BIN)/python -m faults $(FAULTS_ARGS)

# A realistic sample published into the running stack; prints certificate events as they arrive.
demo: venv build-stack
	$(BIN)/python -m devstack exec -- $(BIN)/python -m examples.demo $(DEMO_ARGS)

# Three instances, 100k+ facts, ten minutes of seeded faults, then the exact check (issue 16).
soak: venv build-stack
	$(BIN)/python -m devstack exec -- $(BIN)/python -m faults.soak $(SOAK_ARGS)

# A real run watched through /metrics (Kafka stopped in the middle): docs/operating-*.png.
operating-plots: venv build-stack
	$(BIN)/python -m devstack exec -- $(BIN)/python -m examples.operating_run $(OPERATING_ARGS)

# The API fuzzed far harder than in `make test` (schemathesis over the served OpenAPI document).
fuzz-api: venv build-stack
	BATCH_SERVICE_FUZZ_EXAMPLES=$${BATCH_SERVICE_FUZZ_EXAMPLES:-300} \
	  $(BIN)/python -m pytest tests/api/test_fuzz.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
