# dlp-proxy: `make run` starts the gateway, `make test` runs every check. Both set up what they need.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFDIR := certs
POLICY ?= policies/default.yaml
LISTEN_HOST ?= 127.0.0.1
LISTEN_PORT ?= 8080
# pip on these machines warns about missing local mirrors; the warnings are noise, not errors.
QUIET_PIP := grep -v "is ignored: it is neither a file nor a directory" || true

.PHONY: help run test eval bench bypass lint typecheck unit policy-test certs lock clean browser wrk

help:
	@echo "make run    create .venv, install, generate certs/, start the proxy on $(LISTEN_HOST):$(LISTEN_PORT)"
	@echo "make test   create .venv, install with dev tools (chromium for the console tests, wrk for the benchmark's own test), run ruff, mypy, pytest and the policy tests"
	@echo "make policy-test   run the policies' test cases (policies/tests) with the real model"
	@echo "make eval   measure detection: a labelled corpus through the proxy and plain Presidio"
	@echo "make bench  measure throughput and latency against plain mitmdump (needs wrk; ~5 min)"
	@echo "make bypass run the adversary's suite through the real proxy (docs/bypass.md); fails on any leak"
	@echo "make lock   re-resolve requirements*.lock from pyproject.toml (needs uv)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null || { \
	  echo "dlp-proxy needs Python 3.12 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
	  echo "Install 3.12 (e.g. 'pyenv install 3.12') or run: make $(MAKECMDGOALS) PYTHON=/path/to/python3.12"; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)

# Installs exactly the locked, hash-checked versions, then the project itself without deps.
$(VENV)/.runtime-installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | $(QUIET_PIP)
	touch $@

$(VENV)/.dev-installed: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip check
	touch $@ $(VENV)/.runtime-installed

certs: $(VENV)/.runtime-installed
	$(BIN)/dlp-proxy init --confdir $(CONFDIR)

run: certs
	$(BIN)/dlp-proxy run --policy $(POLICY) --listen-host $(LISTEN_HOST) --listen-port $(LISTEN_PORT) --confdir $(CONFDIR)

# A measurement, not a check: it exits 0 whatever the figures (docs/detection.md explains them).
eval: $(VENV)/.dev-installed
	$(BIN)/dlp-proxy init --confdir $(CONFDIR)
	$(BIN)/python -m bench.eval

# A measurement, not a check: it exits 0 whatever the figures (docs/performance.md), 2 when the
# benchmark is broken. The load generator is wrk from the distribution's packages.
bench: $(VENV)/.runtime-installed wrk
	$(BIN)/python -m bench.throughput

# A check, not a measurement: exits 1 while any case leaks, a log holds a raw secret, more than one
# benign control is blocked, a case hangs or the proxy crashes (docs/bypass.md). Report in var/bypass/.
bypass: $(VENV)/.dev-installed
	$(BIN)/dlp-proxy init --confdir $(CONFDIR)
	$(BIN)/python -m bench.bypass

# The load generator of make bench (and of its one-second test in make test): Debian's wrk.
wrk:
	@command -v wrk >/dev/null || { \
	  echo "make $(MAKECMDGOALS) needs wrk (the load generator); installing the 'wrk' package with apt-get"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; else \
	    echo "cannot install wrk without root: run 'sudo apt-get install wrk' (Debian, Ubuntu)"; \
	    echo "or build it from https://github.com/wg/wrk, then run make $(MAKECMDGOALS) again"; exit 1; fi; \
	  $$SUDO apt-get install -y wrk || { $$SUDO apt-get update && $$SUDO apt-get install -y wrk; } || { \
	    echo "apt-get could not install wrk: install it by hand, then run make $(MAKECMDGOALS) again"; exit 1; }; }

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

unit: $(VENV)/.dev-installed
	$(BIN)/python -m pytest

# The shipped policies' own test cases (policies/tests/*_test.yaml, docs/policy-tests.md).
policy-test: $(VENV)/.runtime-installed
	$(BIN)/dlp-proxy policy test policies/tests

# The console's tests drive a real headless Chromium: Debian's chromium and its chromedriver.
browser:
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { \
	  echo "make test needs chromium and chromedriver (the console's browser tests); installing Debian's 'chromium' and 'chromium-driver' with apt-get"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; else \
	    echo "cannot install them without root: run 'sudo apt-get install chromium chromium-driver', then make test again"; exit 1; fi; \
	  $$SUDO apt-get install -y chromium chromium-driver || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium chromium-driver; } || { \
	    echo "apt-get could not install chromium: install chromium and chromium-driver by hand, then run make test again"; exit 1; }; }

test: $(VENV)/.dev-installed browser wrk
	$(BIN)/dlp-proxy init --confdir $(CONFDIR)
	$(MAKE) --no-print-directory lint typecheck unit policy-test

lock:
	uv pip compile pyproject.toml build-requirements.in --python-version 3.12 --generate-hashes -o requirements.lock
	uv pip compile pyproject.toml build-requirements.in --extra dev --python-version 3.12 --generate-hashes -o requirements-dev.lock

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache var
