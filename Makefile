# sbkcard: one place for the commands the README and CI use.
# Works on a fresh Debian machine as root: `make test` installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
APT_PACKAGES := pcscd vsmartcard-vpcd libpcsclite-dev swig opensc pcsc-tools softhsm2 \
                python3-virtualsmartcard iproute2 chromium chromium-driver postgresql \
                graphviz

.PHONY: all apt venv demo test lint docs bench clean

all: test

# System packages the tests need (PC/SC stack, external tools, SoftHSM2, vicc, PostgreSQL).
apt:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev,pcsc,hsm,sm2]'
	touch $@

venv: $(VENV)/.installed

# The main job: the end-to-end demo on the built-in simulator.
demo: apt venv
	$(VENV)/bin/sbkcard demo

# The whole test suite (starts pcscd, the simulated cards and SoftHSM itself).
test: apt venv
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check sbkcard tests benchmarks
	$(VENV)/bin/ruff format --check sbkcard tests benchmarks
	$(VENV)/bin/mypy

docs: venv
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

bench: apt venv
	$(PY) -m benchmarks

clean:
	rm -rf docs/_build .pytest_cache .mypy_cache .ruff_cache
