# srlab: set-up, the main job, and the tests. Every target installs what it needs into .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SRLAB := $(VENV)/bin/srlab
SHARED_DATA := $(abspath ../shared/data)
export SRLAB_DATA_DIR ?= $(SHARED_DATA)
# The CPU build of torch; on a GPU machine use e.g. `make setup TORCH=torch==2.13.0` from the CUDA index.
TORCH ?= torch==2.13.0

.PHONY: setup test-deps quickstart eval-demo test lint bench clean-store

setup: $(VENV)/.srlab-installed

$(VENV)/.srlab-installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first: otherwise a dependency pulls a multi-GB CUDA build.
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[hf,train,gym,report,dev,llamacpp,judges]"
	touch $@

# Extra test dependencies: a real llama.cpp OpenAI-compatible server (built from source, ~6 min
# on 2 cores), Debian's Chromium for the HTML report test and bubblewrap for the code sandbox.
test-deps: setup $(VENV)/.server-installed
	command -v chromium >/dev/null 2>&1 && command -v bwrap >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq chromium bubblewrap >/dev/null)

$(VENV)/.server-installed: pyproject.toml
	$(PIP) install --quiet -e ".[server]"
	touch $@

quickstart: setup
	$(SRLAB) run examples/quickstart.yaml

eval-demo: setup
	$(SRLAB) eval --model smollm2-135m --benchmarks gsm8k,strongreject,xstest --strategy cot --limit 20

test: test-deps
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/pytest -q -p no:cacheprovider --durations=15

lint: setup
	$(VENV)/bin/ruff check src tests scripts

# srlab's engines against lm-evaluation-harness's HF backend on the same 64 GSM8K prompts (~6 min).
bench: setup
	$(PIP) install --quiet -e ".[compare,llamacpp]"
	$(PY) scripts/bench_generation.py --engines llamacpp,lm-eval
