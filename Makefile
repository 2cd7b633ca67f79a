# Every target creates what it needs: a fresh clone runs `make run` and `make test` and nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
TOOLS  := .venv-tools
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint format unit check-template asl bench clean

run: $(STAMP)
	$(VENV)/bin/stepwise run

test: $(STAMP) lint unit check-template

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

# aws-sam-cli and checkov pin many packages of their own: they live in their own venv
$(TOOLS)/.installed-stamp: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet -r requirements-tools.txt
	touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit: $(STAMP)
	$(VENV)/bin/pytest

check-template: $(STAMP) $(TOOLS)/.installed-stamp
	bash .ci/check-template

asl: $(STAMP)
	$(PY) statemachine/build.py

bench: $(STAMP)
	$(PY) bench/data_generate.py
	$(PY) bench/model_quality.py
	$(PY) bench/local_run.py

clean:
	rm -rf $(VENV) $(TOOLS) .stepwise .aws-sam .pytest_cache .ruff_cache
