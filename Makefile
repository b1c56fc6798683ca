# The two commands of the README:
#   make demo   set up, seed an embedded MLflow store from sample_runs/, start the dashboard
#   make test   set up (incl. Chromium for browser tests), run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: setup browser demo test test-all bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

demo: setup
	$(BIN)/lrtempo demo

test: setup browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Everything, the slow property/load tests included (nightly).
test-all: setup browser
	$(BIN)/python -m pytest -q -m "" $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m pip install -q -e ".[bench,dask]"
	$(BIN)/python -m benchmarks --quick
	$(BIN)/python -m benchmarks.detection --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
