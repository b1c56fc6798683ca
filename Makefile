# The two commands of the README:
#   make demo   set up, seed an embedded MLflow store from sample_runs/, start the dashboard
#   make test   set up (incl. Chromium for browser tests), run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The extras `make setup` installs (MLflow's client for the demo and write-back, tests,
# benchmarks, gunicorn for --workers, linters),
# at the versions pinned in constraints.txt (`make lock` writes it).
EXTRAS := mlflow,test,bench,serve,lint
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: setup browser postgres demo test test-all bench lint lock clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

# PostgreSQL's server binaries, for the PostgreSQL-backed MLflow server of
# tests/test_postgres_backend.py (which skips, saying why, without them).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql-15 >/dev/null; }

demo: setup
	$(BIN)/lrtempo demo

test: setup browser postgres
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Everything, the slow property/load tests included (nightly).
test-all: setup browser postgres
	$(BIN)/python -m pytest -q -m "" $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[bench,dask]"
	$(BIN)/python -m benchmarks --quick
	$(BIN)/python -m benchmarks.detection --quick

# ruff check (rules and baseline in pyproject.toml), ruff format --check on every tracked
# .py file, mypy on analyzer/.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check $$(git ls-files '*.py')
	$(BIN)/mypy

# Re-pin constraints.txt: every package that `make setup` and the dask extra install, at
# this venv's versions, resolved again from the registry so each pin is known to install
# (torch, of the corpus extra, stays out). Upgrade a package in the venv, then `make lock`.
lock:
	$(BIN)/python -m pip list --format=freeze --exclude-editable > .lock-freeze.txt
	$(BIN)/python -m pip install -q --dry-run --ignore-installed -c .lock-freeze.txt \
	  -e ".[$(EXTRAS),dask]" --report .lock-report.json
	$(BIN)/python -c 'import json, re; r = json.load(open(".lock-report.json")); \
	  meta = [p["metadata"] for p in r["install"] if p["metadata"]["name"] != "lrtempo"]; \
	  pins = sorted("{}=={}".format(re.sub("[-_.]+", "-", m["name"]).lower(), m["version"]) for m in meta); \
	  print("# make lock: the versions make setup installs (pip install -c constraints.txt)"); \
	  print("\n".join(pins))' > constraints.txt
	@rm -f .lock-freeze.txt .lock-report.json
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) pins"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
