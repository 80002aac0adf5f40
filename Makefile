# rewardkit's two commands: `make demo` runs the main job, `make test` runs the tests.
# Each creates its own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint bench clean

# torch is pinned here (not in the package) to the CPU build this machine carries; users keep
# their own torch. OpenRLHF and verl go in without their dependencies (their pins clash;
# see docs/trainers), plus what their reward loaders import.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps openrlhf==0.11.2 pylatexenc verl==0.9.1
	$(PY) -m pip install --quiet aiohttp ray omegaconf codetiming "tensordict>=0.8,<=0.10"
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/speciarl/cpu_demo.py

test: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) -m pytest benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks build dist src/*.egg-info
