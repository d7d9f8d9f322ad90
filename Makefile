# The two commands (see README): `make run` serves the bundled models, `make test` runs the tests.
# Each sets up its own virtual environment on first use, with versions pinned by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test lint train-en train-ko bench clean

run: $(VENV)/.serve  ## set up (first time) and start the service on http://127.0.0.1:8000
	$(PY) -m app

test: $(VENV)/.dev  ## set up (first time) and run the test suite (no GPU, no network needed)
	$(PY) -m pytest -m "not docker"

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

$(VENV)/.serve: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[serve]'
	touch $@

$(VENV)/.dev: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.serve

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
