# The two commands of the README. Both set up .venv first (idempotent, cached).
PYTHON := .venv/bin/python

.PHONY: setup test demo
setup:
	bash tools/setup_env.sh

# Runs the test suite and the docstring examples of stn_plugin/geometry and stn_plugin/ops
# (testpaths in pyproject.toml); pytest's exit code is passed through (5 = no tests = failure).
test: setup
	$(PYTHON) -m pytest -q

# The demo on its embedded default data (tools/demo.py).
demo: setup
	$(PYTHON) tools/demo.py
