# Two commands for a newcomer: `make plan STACK=dev` and `make test`.
SHELL := /bin/bash
VENV ?= venv
PY := $(VENV)/bin/python
STACK ?= dev
JSON ?=
AT ?= desired
BASE ?=

.PHONY: plan cost diff restore test lint typecheck unit audit venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

plan: venv
	$(PY) -m tools.plan $(STACK) $(if $(JSON),--json $(JSON))

# Monthly list-price estimate: make cost STACK=prod [AT=min|desired|max] [JSON=cost.json]
# [ARGS="--swap m6i.xlarge=m7g.xlarge --set 'nodePools={...}'"] (what-if levers, docs/cost.md)
cost: venv
	$(PY) -m tools.cost $(STACK) --at $(AT) $(if $(JSON),--json $(JSON)) $(ARGS)

# What a change does to a stack and its cost delta: make diff STACK=prod BASE=origin/main
diff: venv
	$(if $(BASE),,$(error BASE=<git revision> is required))
	$(PY) -m tools.diff $(STACK) --base $(BASE) --at $(AT) $(if $(JSON),--json $(JSON))

# Restore steps from the stack's plan, dry run unless ARGS has --execute:
# make restore KIND=rds-pitr STACK=prod ARGS="--to 2026-12-01T03:00:00Z"
restore: venv
	$(PY) -m tools.restore $(KIND) --stack $(STACK) $(ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.renovate renovate.json

typecheck: venv
	$(VENV)/bin/mypy components tools __main__.py
	cd policy && $(abspath $(VENV))/bin/mypy --config-file ../pyproject.toml agentfactory_policies __main__.py

unit: venv
	$(PY) -m pytest -n auto

# Known vulnerabilities in the pinned dependencies (tools/audit.py says when it could not ask).
audit: venv
	$(PY) -m tools.audit

test: lint typecheck audit unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
