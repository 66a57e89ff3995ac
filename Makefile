# Everything goes through a local virtualenv so a fresh machine needs only
# Python >= 3.11 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Test runs spread over the CPUs (pytest-xdist; each lock's HIL tests stay on one worker,
# fixtures/xdist.py) and cache bytecode under the venv even where the environment turns
# caching off (PYTHONDONTWRITEBYTECODE, as many CI images do): every worker and every
# subprocess a test starts would compile the whole package again (docs/performance.md §6).
WORKERS ?= auto
TEST_ENV := PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(abspath $(VENV))/pycache

.PHONY: nightly test lint typecheck unit labgrid hil-bluez hil-bumble fuzz clean selfcheck

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job: nightly regression suite against the built-in virtual lab.
nightly: $(STAMP)
	$(BIN)/ttlock-hil nightly

## All checks CI runs: lint, type-check, tests (the HIL suite on tiers 1, 2 and 3).
test: lint typecheck unit labgrid hil-bluez hil-bumble

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/python tools/typecheck.py

unit: $(STAMP)
	$(TEST_ENV) $(BIN)/pytest -q -p no:cacheprovider -n $(WORKERS) --ignore=tests/unit/labgrid

## The labgrid integration (docs/labgrid.md) in its own step: a coordinator and exporters on
## 127.0.0.1, three virtual benches, `ttlock-hil lab nightly` (needs the labgrid extra, in dev).
labgrid: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/labgrid

## The regression suite again on the BlueZ tier: bleak's own Linux backend against the
## BlueZ double (docs/tiers.md §4). Needs dbus-daemon (.ci/run installs it).
## Four workers whatever the CPUs: they mostly wait for the double's D-Bus round trips.
hil-bluez: $(STAMP)
	$(TEST_ENV) $(BIN)/pytest -q -p no:cacheprovider -n 4 tests/hil --hil-tier bluez

## And on the Bumble tier: a real host stack (HCI, L2CAP, ATT/GATT) on both sides of an
## in-process link (docs/tiers.md §7). Needs the bumble extra (the dev extra has it).
## CPU-bound (Python host stacks): one worker per CPU (2 CPUs: 55 s instead of 95 s).
hil-bumble: $(STAMP)
	$(TEST_ENV) $(BIN)/pytest -q -p no:cacheprovider -n $(WORKERS) tests/hil --hil-tier bumble

## Long fuzzing run (>= 100 000 examples per parser).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider -m fuzz tests/unit

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache

## Performance figures (docs/performance.md), not part of `make test`: codec vs the peer
## packages (installed into bench/.venv-peers) and a struct + cryptography floor, the
## harness round trip vs a bare bleak client, locks in parallel, a 10 000-command soak, the
## nightly with 6/12/24 devices. Writes bench/results/<date>.json and .md.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.run
