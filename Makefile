# Ground Truth streaming labeling — developer entry points.
# `make help` lists the targets. Every target bootstraps what it needs (.venv) on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The local cloud's port: PORT=4599, or GTLOCAL_PORT (read by gtlocal and the demo too), else 4566.
GTLOCAL_PORT ?= 4566
PORT ?= $(GTLOCAL_PORT)
export GTLOCAL_PORT := $(PORT)
# Lambda package target (make package RUNTIME=python3.12 ARCH=arm64): what scripts/package_lambda.py builds.
RUNTIME ?= python3.11
ARCH ?= x86_64

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml lambda_src/requirements.txt lambda_src/requirements-runtime.txt
	@echo ">> creating $(VENV) and installing the project with its dev tools"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'uv>=0.5,<1'
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode --upgrade-package pip pip -e '.[dev]'
	@touch $@

.PHONY: install
install: $(STAMP) ## Create .venv and install the project, the local cloud, the CLI and dev tools

.PHONY: lint
lint: install ## ruff, mypy, cfn-lint, terraform fmt
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint cloudformation/*.yaml
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive terraform; \
	  else echo "SKIP terraform fmt: no terraform binary on PATH"; fi

.PHONY: test
test: install ## Fast unit tests only (no local cloud, no terraform)
	$(BIN)/pytest tests/unit

# pytest-xdist workers: one per core (2 here); each has its own local cloud. Tests sharing the
# working tree (terraform, cloudformation, package, pipeline) run in one worker (tests/conftest.py).
# --no-loadscope-reorder: the groups go out in tests/conftest.py's order (longest first), not by
# their number of tests.
TEST_WORKERS ?= 2

.PHONY: test-local
test-local: install lint ## THE test command: lint + unit + integration (local cloud, package builds, terraform apply) + IAM coverage + checkov
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=25 tests
	$(BIN)/python scripts/iam_coverage.py --check
	$(MAKE) checkov

.PHONY: iam-coverage
iam-coverage: install ## Rewrite docs/iam-coverage.md from the last test session's IAM records (build/iam/)
	$(BIN)/python scripts/iam_coverage.py

.PHONY: package
package: ## Build the Lambda package build/lambda-$(RUNTIME)-$(ARCH).zip (RUNTIME=python3.11|python3.12|python3.13 ARCH=x86_64|arm64)
	$(PYTHON) scripts/package_lambda.py --runtime $(RUNTIME) --architecture $(ARCH)

.PHONY: emulator
emulator: install ## Run the local cloud in the foreground on 127.0.0.1:$(PORT)
	$(BIN)/gtlocal serve --port $(PORT)

.PHONY: emulator-up
emulator-up: install ## Start the local cloud in the background and wait until it answers
	$(BIN)/gtlocal up --port $(PORT)

.PHONY: emulator-down
emulator-down: ## Stop the background local cloud started by emulator-up (only that process)
	@if [ -x $(BIN)/gtlocal ]; then $(BIN)/gtlocal down --port $(PORT); else echo "nothing to stop"; fi

.PHONY: demo
demo: install ## The whole story on the local cloud: apply, drop, label, expire, chain, summary
	$(BIN)/python scripts/demo.py

.PHONY: bench
bench: install ## Benchmarks (import time, manifest merge memory, local apply time, the 10,000-drop load), honest figures
	$(BIN)/python -m bench

CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed-stamp: $(STAMP)
	$(PYTHON) -m venv --without-pip $(CHECKOV_VENV)
	$(BIN)/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python --compile-bytecode 'checkov>=3.2,<4'
	@touch $@

.PHONY: checkov
checkov: $(CHECKOV_VENV)/.installed-stamp ## checkov on terraform/ and cloudformation/ (its own environment; offline: --skip-download)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework terraform -d terraform
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -d cloudformation

.PHONY: clean
clean: ## Remove build output and caches (keeps .venv)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .localcloud
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
