# The two commands: `make demo` runs the end-to-end demo, `make test` runs the checks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench bench-quick bench-venvs clean

DEMO_STAMP := $(VENV)/.installed-demo

# The demo needs tillage and its dependencies only; the tests also need the dev
# extra (linters, Ray, Polars, PostgreSQL's driver), which installs on top.
$(DEMO_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP) $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/tillage demo --path demo-repo --force

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

# Benchmarks: each script runs in .venv and calls its peer tools in their own virtual
# environment under benchmarks/_work (their pins conflict with tillage's and with each
# other's: whylogs needs numpy < 2). `make bench-quick` passes --quick to every script.
BENCH_WORK := benchmarks/_work
BENCHMARKS := versioning append history startup profile validate drift alerts outbox pipelines label_issues label_model label_suites annotation active_learning valuation selection_scale dp access synthesize
PEER_VENVS := dvc drift issues labels pipelines validate al
BENCH_ARGS ?=

define peer_venv
	rm -rf $(@D)
	$(PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip install --quiet --upgrade pip
	$(@D)/bin/python -m pip install --quiet -r $<
	touch $@
endef

# DVC and whylogs (benchmarks/requirements.txt) share the venv the scripts call dvc-venv.
$(BENCH_WORK)/dvc-venv/.installed: benchmarks/requirements.txt
	$(peer_venv)

$(BENCH_WORK)/%-venv/.installed: benchmarks/requirements-%.txt
	$(peer_venv)

bench-venvs: $(foreach p,$(PEER_VENVS),$(BENCH_WORK)/$(p)-venv/.installed)

bench: $(STAMP) bench-venvs
	@for b in $(BENCHMARKS); do \
		echo "== benchmarks/bench_$$b.py $(BENCH_ARGS)" >&2; \
		$(BIN)/python benchmarks/bench_$$b.py $(BENCH_ARGS) --json $(BENCH_WORK)/$$b.json \
			> $(BENCH_WORK)/$$b.md || exit 1; \
		cat $(BENCH_WORK)/$$b.md; \
	done

bench-quick:
	$(MAKE) bench BENCH_ARGS=--quick

clean:
	rm -rf $(VENV) demo-repo .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
