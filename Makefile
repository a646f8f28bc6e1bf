# make setup : .venv with the package (editable) and every extra; idempotent
# make demo  : the whole stack, headless, in the simulator, doing a real task
# make test  : lint, type-check, then the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# DDS stays on this machine unless a deployment says otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export ROS_LOCALHOST_ONLY ?= 1

.PHONY: setup demo test lint typecheck pytest bench clean

setup: $(STAMP) system-deps

$(STAMP): setup.py setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[ros,test,hardware]'
	touch $(STAMP)

# Debian's Chromium for the browser tests (Playwright cannot download one here).
.PHONY: system-deps
system-deps:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian chromium for browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: setup
	$(VENV)/bin/embodied-stack demo

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/pytest

test: lint typecheck pytest

bench: setup
	mkdir -p benchmarks/results
	for b in sim ik motion perception planner audit estop; do \
	  $(VENV)/bin/embodied-stack bench $$b --json benchmarks/results/$$b.json || exit 1; done

clean:
	rm -rf $(VENV) build install log .pytest_cache .mypy_cache .ruff_cache
