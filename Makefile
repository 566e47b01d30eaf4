# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check bench bench-peers install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask,dbt]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/podium demo

# Two passes: most tests on three workers (they mostly wait on servers and child processes),
# then those marked `alone` (bounds in seconds, shares of an API's rate) by themselves.
PYTEST := $(BIN)/python -m pytest -q -rs -p no:cacheprovider

test: $(STAMP)
	$(PYTEST) -n 3 --dist loadfile -m "not alone" --durations=15
	$(PYTEST) -m alone --durations=5

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-peers: $(STAMP)
	$(BIN)/python bench/run.py --peers

clean:
	rm -rf $(VENV) .podium build dist src/*.egg-info
