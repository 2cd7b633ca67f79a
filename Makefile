# Every target creates what it needs: a fresh clone runs `make run` and `make test` and nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
TOOLS  := .venv-tools
# One .venv, in two steps: `make run` installs Stepwise (editable) with only what running needs;
# `make test` (and every other target that lints, tests or authors) adds the dev group to the same venv.
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.dev-stamp

.PHONY: run test lint format unit check-template sam-build asl bench clean

run: $(RUN_STAMP)
	$(VENV)/bin/stepwise run

test: $(DEV_STAMP) lint unit check-template

$(RUN_STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

# pyproject.toml's [dependency-groups] dev: tests, linters, template checkers, authoring tools
$(DEV_STAMP): $(RUN_STAMP)
	$(VENV)/bin/pip install --quiet --group dev
	touch $@

# aws-sam-cli and checkov pin many packages of their own: they live in their own venv
$(TOOLS)/.installed-stamp: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet -r requirements-tools.txt
	touch $@

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(DEV_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit: $(DEV_STAMP)
	$(VENV)/bin/pytest

check-template: $(DEV_STAMP) $(TOOLS)/.installed-stamp
	bash .ci/check-template

# `sam build` into .aws-sam/ for `sam deploy`, with a Python 3.12 that runs first on PATH (the
# functions' runtime: a pyenv shim named python3.12 may only forward to another version)
sam-build: $(TOOLS)/.installed-stamp
	py312="$$(bash .ci/python312)" && PATH="$$(dirname "$$py312"):$$PATH" $(TOOLS)/bin/sam build

asl: $(DEV_STAMP)
	$(PY) statemachine/build.py

bench: $(DEV_STAMP)
	$(PY) bench/data_generate.py
	$(PY) bench/model_quality.py
	$(PY) bench/local_run.py

clean:
	rm -rf $(VENV) $(TOOLS) .stepwise .aws-sam .pytest_cache .ruff_cache build dist *.egg-info
