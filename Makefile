# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install migrate clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/aduan db upgrade

run: migrate
	$(BIN)/aduan run

# Two workers (pytest-xdist): the suite is CPU-bound and the machines have two cores;
# each worker has its own PostgreSQL schema and Redis database (tests/conftest.py).
TEST_WORKERS ?= 2

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

clean:
	rm -rf $(VENV) var .pytest_cache

# Benchmarks: needs PostgreSQL and Redis on this machine (as .ci/run starts them) and wrk.
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.inbound
	$(BIN)/python -m bench.handling
	$(BIN)/python -m bench.outbound
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.offices
	$(BIN)/python -m bench.flood_workers
