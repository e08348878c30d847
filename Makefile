# Streaming Showcase: `make run` serves the demo, `make test` proves it. `make` lists targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= python3
BIND ?= 127.0.0.1:8000

.DEFAULT_GOAL := help
.PHONY: help run run-redis run-proxy test test-fast lint bench bench-quick guide clean browser-deps \
	redis-deps nginx-deps netns-deps venv-deps

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# Order-only (after |): venv-deps runs first but never makes the stamp out of date.
$(STAMP): setup.cfg setup.py pyproject.toml | venv-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

venv: $(STAMP) ## create .venv and install the package with test and bench extras

venv-deps: ## install Debian's python3-venv when python3 cannot make a venv (no ensurepip)
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "installing Debian's python3-venv ($(PYTHON) -m venv needs ensurepip)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq python3-venv >/dev/null; }

browser-deps: ## install Debian's chromium for the browser tests when it is missing
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium (browser tests)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium >/dev/null; }

redis-deps: ## install Debian's redis-server (the hub's Redis tests, make run-redis) when missing
	@command -v redis-server >/dev/null || { \
	  echo "installing Debian's redis-server (hub tests, run-redis)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq redis-server >/dev/null; }

nginx-deps: ## install Debian's nginx and openssl (make run-proxy: its TLS certificate; the proxy tests) when missing
	@{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null && command -v openssl >/dev/null || { \
	  echo "installing Debian's nginx and openssl (run-proxy, proxy tests)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq nginx openssl >/dev/null; }

run: $(STAMP) ## serve every mode on http://$(BIND)/ (gunicorn + gevent)
	$(VENV)/bin/showcase serve --bind $(BIND)

REDIS_PORT ?= 6379
run-redis: $(STAMP) redis-deps ## serve with the Redis broker: a local redis-server (no persistence) on 127.0.0.1:$(REDIS_PORT), stopped on exit
	@redis-server --bind 127.0.0.1 --port $(REDIS_PORT) --save '' --appendonly no --daemonize no >/dev/null & \
	  redis=$$!; trap 'kill $$redis 2>/dev/null' EXIT INT TERM; \
	  $(VENV)/bin/showcase serve --bind $(BIND) --workers 4 --broker redis://127.0.0.1:$(REDIS_PORT)/0

run-proxy: $(STAMP) nginx-deps ## the app on $(BIND) with nginx in front: :8080 (each setting), :8443 (TLS + HTTP/2)
	$(VENV)/bin/showcase proxy --bind $(BIND)

netns-deps: ## install iproute2 (ip, tc: the disconnect benchmark's network namespace) when missing
	@{ command -v ip && command -v tc; } >/dev/null || { \
	  echo "installing Debian's iproute2 (ip netns, tc: the disconnect benchmark)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq iproute2 >/dev/null; }

test: $(STAMP) browser-deps redis-deps nginx-deps netns-deps ## run the whole test suite (unit, app, integration, browser)
	$(PY) -m pytest

test-fast: $(STAMP) ## unit and app tests only (seconds)
	$(PY) -m pytest tests/unit tests/app

lint: $(STAMP) ## ruff check + format check, mypy strict on the package
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP) ## the whole suite: results/latest/, then docs/results/ (committed), docs/choosing.md
	$(PY) -m benchmarks.suite

bench-quick: $(STAMP) ## every benchmark in a small configuration (a few minutes): results/quick/
	$(PY) -m benchmarks.suite --quick

guide: $(STAMP) ## rewrite docs/choosing.md (tables, plots) from docs/results/
	$(PY) -m benchmarks.guide

clean: ## remove the venv, caches, generated data and results
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache data results artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
