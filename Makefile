# icsim: one command to set up and run the main job (make demo), one for the tests (make test).
# Finds a Python >= 3.12 (python3.13, python3.12, pyenv's, then python3), makes .venv, installs.

SHELL := /bin/bash
# Python caches compiled modules (and pytest its rewritten tests) unless told not to; some
# machines set PYTHONDONTWRITEBYTECODE, which makes each of the suite's many Python
# processes (kernels, workers, servers, CLI checks) compile sim/ again.
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin
PY_CANDIDATES := python3.13 python3.12 $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3) \
	$(wildcard /usr/local/bin/python3.1[2-9]) python3
PYTHON ?= $(shell for p in $(PY_CANDIDATES); do \
	if $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	command -v $$p || echo $$p; break; fi; done)

.PHONY: help setup demo test test-fast test-slurm lint bench docs sensitivity notebooks clean \
	model-changes validate

help:
	@echo "make demo   set up .venv and compare the national approaches and the toolkit -> results/"
	@echo "make test   set up .venv and run the whole test suite, slow tests included (as CI)"
	@echo "make test-fast   the tests not marked slow (no calibration, notebooks, Dask, browser)"
	@echo "make test-slurm   start a one-node SLURM (root, Debian's packages) and test the HPC recipe on it"
	@echo "make notebooks   run every notebook and write HTML versions that open offline -> results/notebooks/"
	@echo "make lint   ruff, mypy and the layer contract (sim/layers.py)"
	@echo "make bench   speed benchmarks;  make clean"
	@echo "make docs   regenerate the registry tables in docs/ODD.md and the CLI reference docs/cli.md"
	@echo "make sensitivity   screen every lever and assumption -> docs/sensitivity.md"
	@echo "make model-changes   the model revision's before/after table -> docs/model_changes.md"
	@echo "make validate   the national view against national evaluations -> docs/validation.md"

$(BIN)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: no Python >= 3.12 found (tried: $(PY_CANDIDATES))" >&2; exit 2; fi
	@echo "using $(PYTHON) ($$($(PYTHON) --version))"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Compiles the engines ahead (or finds them in the per-user cache, keyed by the sources'
# content: a second clone of the same sources compiles nothing), so the first run pays
# nothing; a few seconds when the cache is warm.
setup: $(BIN)/.installed
	@$(BIN)/python -c "from sim.run import warm; warm()"

demo: setup
	$(BIN)/icsim run --seed 1 --out results/baseline_run
	$(BIN)/icsim compare baseline enabling_national funded_vanguard prescriptive_national \
		austerity toolkit --replicates 400 --seed 0 --out results/national_approaches
	$(BIN)/icsim compare baseline enabling_national funded_vanguard prescriptive_national \
		austerity toolkit --replicates 400 --seed 0 --point --out results/national_approaches_point
	@echo "Report: results/national_approaches/comparison.md (figures beside it), under the"
	@echo "shipped case posterior; at the registry's point values (--point):"
	@echo "results/national_approaches_point/comparison.md"

# Three pytest workers (pytest-xdist) on the machine's two cores: many tests wait (a browser,
# notebook kernels, worker pools and Dask clusters starting), and a third worker fills the
# cores meanwhile. --dist loadfile keeps a file's tests, and the module fixtures they share
# (the hostile tree, the toy sweep, the national run), in one worker, so none is built
# twice; --no-loadscope-reorder keeps tests/conftest.py's order (the longest files first)
# instead of xdist's (the files with most tests first, which left the browser test last).
# test-fast leaves out the tests marked slow (pyproject). Both leave out the test of the
# HPC recipe on SLURM (marked slurm: 30-80 s of a real SLURM's batch jobs, where one runs):
# `make test-slurm` starts a one-node SLURM (root, Debian's packages) and runs it, as CI does.
test: setup
	$(BIN)/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder -m "not slurm"

test-fast: setup
	$(BIN)/python -m pytest -n 2 -m "not slow and not slurm"

test-slurm: setup
	bash tools/slurm/start_local_slurm.sh
	ICSIM_REQUIRE_SLURM=1 $(BIN)/python -m pytest -rs -m slurm tests/experiment/test_slurm.py

docs: setup
	$(BIN)/python -c "from pathlib import Path; from sim.core.registry import render_doc_tables; \
	p = Path('docs/ODD.md'); p.write_text(render_doc_tables(p.read_text()))"
	$(BIN)/python -m sim.ui.reference

# The before/after table of the model revision of issue 19 (docs/model_changes.md): the
# earlier model is the commit before the revision.
MODEL_BEFORE ?= 1ec26ef
model-changes: setup
	$(BIN)/python tools/model_changes.py --before $(MODEL_BEFORE)

# The external validation of the national view (issue 21): docs/validation.md and its figures
# under the shipped case posterior, and docs/validation_point.md at the registry's point
# values. About 1.5 minutes on two cores.
VALIDATE_POSTERIOR ?= data/case_posterior.parquet
VALIDATE_WORKERS ?= 2
validate: setup
	rm -rf results/validation results/validation_point
	$(BIN)/python -m sim validate experiments/validate_national.toml --posterior $(VALIDATE_POSTERIOR) \
		--workers $(VALIDATE_WORKERS) --quiet --out results/validation
	$(BIN)/python -m sim validate experiments/validate_national.toml --point \
		--workers $(VALIDATE_WORKERS) --quiet --out results/validation_point
	$(BIN)/python -c "from sim.report.validation import publish; \
	publish('results/validation', 'docs/validation.md', 'docs/images/validation'); \
	publish('results/validation_point', 'docs/validation_point.md', 'docs/images/validation/point')"

sensitivity: setup
	$(BIN)/python -m sim.ui.sensitivity

# All three checks run even when one fails, so one pass shows every problem; the target
# fails if any of them does.
lint: setup
	@status=0; \
	echo "$(BIN)/ruff check sim tests benchmarks tools"; \
	$(BIN)/ruff check sim tests benchmarks tools || { status=1; echo "lint: ruff failed" >&2; }; \
	echo "$(BIN)/mypy sim tools/slurm"; \
	$(BIN)/mypy sim tools/slurm || { status=1; echo "lint: mypy failed" >&2; }; \
	echo "$(BIN)/python -m sim.layers"; \
	$(BIN)/python -m sim.layers || { status=1; echo "lint: layer contract failed" >&2; }; \
	exit $$status

# One script per goal of issue 24 (kernel, start-up and the first demo, runner, national
# at scale, calibration, Dask), then the earlier ones.
bench: setup
	$(BIN)/python benchmarks/bench_kernel.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_first_demo.py
	$(BIN)/python benchmarks/bench_calibration.py
	$(BIN)/python benchmarks/bench_runner.py
	$(BIN)/python benchmarks/bench_national_scale.py
	$(BIN)/python benchmarks/bench_dask.py
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_model.py
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_national.py

$(BIN)/.teach: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,teach]"
	touch $@

# HTML versions that open with no network: no script from a CDN, figures inline, the live
# dashboard replaced by a note; the export fails if a page still names an external host.
notebooks: $(BIN)/.teach
	$(BIN)/python tools/export_notebooks.py --out results/notebooks notebooks/*.ipynb
	@echo "HTML versions (they open offline): results/notebooks/*.html"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
	find results -mindepth 1 ! -name README.md -exec rm -rf {} +
