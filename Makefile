# The two commands of the README (make demo, make test). Both set up .venv first
# (idempotent, cached) with the locked versions of requirements/lock.txt.
PYTHON := .venv/bin/python
LATEST_VENV := .venv-latest

.PHONY: setup test demo lock test-latest
setup:
	bash tools/setup_env.sh

# Runs the test suite and the docstring examples of the geometry, ops and datasets layers
# (testpaths in pyproject.toml); pytest's exit code is passed through (5 = no tests = failure).
test: setup
	$(PYTHON) -m pytest -q

# The demo on its embedded default data (tools/demo.py).
demo: setup
	$(PYTHON) tools/demo.py

# Rewrites requirements/lock.txt from the newest releases inside pyproject.toml's ranges,
# but for the reasoned holds of requirements/holds.txt (set up in $(LATEST_VENV)).
# Then `make test`: a lock is only as good as the suite that passed on it.
lock:
	STN_VENV=$(CURDIR)/$(LATEST_VENV) STN_UNLOCKED=holds bash tools/setup_env.sh
	$(LATEST_VENV)/bin/python tools/lock_env.py --write

# The suite against the newest releases (holds ignored too), in their own venv, so that
# drift is found on purpose: prints how that environment differs from the lock, then
# runs every test but the one that checks the environment against the lock.
test-latest:
	STN_VENV=$(CURDIR)/$(LATEST_VENV) STN_UNLOCKED=1 bash tools/setup_env.sh
	$(LATEST_VENV)/bin/python tools/lock_env.py --diff
	$(LATEST_VENV)/bin/python -m pytest -q --deselect tests/packaging/test_locked_environment.py
