# The two commands of the README. Both bootstrap .venv first (scripts/bootstrap.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# pytest on every core (pytest-xdist). --dist loadfile keeps each test file on one worker: module-scoped
# fixtures are built once, and the legacy SUPERB tests (ordered last by tests/conftest.py) run after the rest.
PYTEST_WORKERS ?= auto

.PHONY: demo test bootstrap bench

bootstrap:
	@VENV=$(VENV) bash scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/bin/spear-bench demo

test:
	@VENV=$(VENV) SPEAR_BENCH_TEST_TOOLS=1 bash scripts/bootstrap.sh
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: bootstrap
	$(PY) benchmarks/embed_speed.py
