# The two commands of the README. Both bootstrap .venv first (scripts/bootstrap.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test bootstrap bench

bootstrap:
	@VENV=$(VENV) bash scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/bin/spear-bench demo

test:
	@VENV=$(VENV) SPEAR_BENCH_TEST_TOOLS=1 bash scripts/bootstrap.sh
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

bench: bootstrap
	$(PY) benchmarks/embed_speed.py
