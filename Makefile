# Quick start: `make demo` (train a small net, count regions) and `make test` (whole suite);
# `make docs` builds the documentation into docs/_build/html.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: install demo test bench docs clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU wheel pinned for these machines; a looser spec pulls a multi-GB CUDA build.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[test,docs]"  # the tests build the documentation
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# Two pytest-xdist workers: these machines have two cores.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

# the site with warnings as errors; the gallery's examples run as it builds (the install step
# installs the docs extra)
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache docs/_build docs/auto_examples docs/generated docs/api.rst \
		docs/sg_execution_times.rst
