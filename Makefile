# rewardkit's two commands: `make demo` runs the main job, `make test` runs the tests.
# Each creates its own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo demo-hacking test lint bench mutate package gpu-check clean

# torch is pinned here (not in the package) to the CPU build this machine carries; users keep
# their own torch. OpenRLHF and verl go in without their dependencies (their pins clash;
# see docs/trainers), plus what their reward loaders import - last, so pip's resolver has
# nothing to report about their (deliberately) missing pins.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet aiohttp ray omegaconf codetiming "tensordict>=0.8,<=0.10" pylatexenc
	$(PY) -m pip install --quiet --no-deps openrlhf==0.11.2 verl==0.9.1
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/speciarl/cpu_demo.py

# Reward hacking seen while it happens: a judge with a planted hole, the audit judge and the
# alarms (docs/monitor.md); writes runs/hacking-demo.
demo-hacking: $(VENV)/.installed
	$(PY) examples/speciarl/hacking.py

test: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) -m pytest benchmarks

# Mutation testing of the critical modules with mutmut (docs/contributing.md); not part of
# `make test` or CI. MODULES narrows it (make mutate MODULES="rules ladders"), MUTATE_JOBS sets
# how many mutants run at once. mutmut mutates a copy in mutants/, never src/.
MUTMUT_VERSION := 3.8.1
MODULES ?=
MUTATE_JOBS ?= 2

mutate: $(VENV)/.installed
	$(PY) -m pip install --quiet mutmut==$(MUTMUT_VERSION)
	$(PY) tools/mutate.py --jobs $(MUTATE_JOBS) $(MODULES)

# On the GPU machine (no network, plain python3): the carried wheels (made here beforehand with
# `python examples/speciarl/gpu_check.py --prepare`), then the three GPU checks.
gpu-check:
	$(PYTHON) examples/speciarl/gpu_check.py --wheels gpu_wheels --out runs/gpu-check

# The wheel and the sdist, each installed into a fresh virtual environment (core only) and
# run: the quick start, the command line and the README's examples (their data from the
# package, rewardkit data), from outside the source tree.
package: $(VENV)/.installed
	rm -rf dist build/pkg
	$(PY) -m build --no-isolation --outdir dist . > build.log 2>&1 || (cat build.log; exit 1)
	@for kind in whl tar.gz; do \
	  $(PYTHON) -m venv build/pkg/$$kind && \
	  build/pkg/$$kind/bin/python -m pip install --quiet dist/*.$$kind && \
	  (cd build/pkg && $$kind/bin/python ../../examples/quickstart.py > /dev/null && \
	   $$kind/bin/rewardkit plugins > /dev/null && \
	   $$kind/bin/python ../../tools/check_readme.py ../../README.md) || exit 1; \
	  echo "package ($$kind): installs and runs"; \
	done
	rm -f build.log

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .benchmarks build dist src/*.egg-info mutants
