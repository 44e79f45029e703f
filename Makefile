# One entry point for people and CI. Each target that needs the environment sets it up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
# The real AWS CLI (v1) that the aws layer runs the instance's scripts with; its own venv, as it
# pins an older botocore than boto3's.
AWSCLI_VENV ?= .venv-awscli
# Test files run in parallel, one worker per core; each file's servers stay in one worker.
PYTEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile
PY := $(VENV)/bin/python
# checkov has a venv of its own (requirements-checkov.txt says why), inside the project's.
CHECKOV_VENV := $(VENV)/checkov
CDK := npx --no-install cdk
# Debian packages the tests run for real: command=package (package@suite:version: from that
# suite when this release's is older). Pebble 2.5+ (trixie's): bookworm's 2.4 puts an IP
# certificate's address in its CN, which certbot 5 reads as a DNS name and refuses; Let's
# Encrypt issues no CN there. certutil (libnss3-tools): Chromium trusts Pebble's root.
SYSTEM_PACKAGES := nginx=nginx chromium=chromium shellcheck=shellcheck \
	mkfs.ext4=e2fsprogs losetup=mount systemd-analyze=systemd nft=nftables ip=iproute2 \
	pebble=pebble@trixie:2.5 certutil=libnss3-tools

# No telemetry from the CLI.
export CDK_DISABLE_CLI_TELEMETRY := true
# Bytecode caches (gitignored; the bundle never includes them): pytest keeps its rewritten test
# modules and every app.py subprocess its compiled imports, instead of redoing both per process.
unexport PYTHONDONTWRITEBYTECODE
# The machine's PATH, for npm alone: `npm ci` installs the project's Node (npm's `node` package,
# pinned in package.json) and must not run on the copy it is replacing.
MACHINE_PATH := $(PATH)
NODE_BIN := $(abspath node_modules/.bin)
# `npx cdk` runs cdk.json's `python3 app.py`: make that the venv's Python. Everything else (the
# CDK CLI, jsii, configurable-http-proxy) runs on the project's Node, never on the machine's.
export PATH := $(abspath $(VENV))/bin:$(NODE_BIN):$(PATH)
export JSII_NODE := $(NODE_BIN)/node

.PHONY: bench doctor help image local local-down setup system synth test test-unit test-stack test-aws test-live lint format deploy diff destroy clean
.PHONY: sg-rules sg-diff sg-snapshot feature-flags

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: $(VENV)/.installed node_modules/.installed ## the Python venv, the pinned Node and CDK CLI (idempotent)

# The test layers' own tools, apart from setup: deploy, synth and make local never need them.
CHECKOV := $(CHECKOV_VENV)/.installed
AWSCLI := $(AWSCLI_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt $(wildcard assets/*/requirements.txt)
	@echo ">> creating $(VENV) and installing Python packages (a minute or two the first time)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt | $(VENV)/.installed
	@echo ">> installing checkov in $(CHECKOV_VENV)"
	@test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

$(AWSCLI_VENV)/.installed: requirements-awscli.txt
	@echo ">> creating $(AWSCLI_VENV) with the AWS CLI the aws layer runs the instance's scripts with"
	@test -x $(AWSCLI_VENV)/bin/python || python3 -m venv $(AWSCLI_VENV)
	@$(AWSCLI_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-awscli.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo ">> installing the pinned Node tools (npm ci: Node 24, the CDK CLI, configurable-http-proxy)"
	@PATH="$(MACHINE_PATH)" npm ci --no-audit --no-fund --loglevel=error
	@# The `node` package fetches its binary in an install script: npm with ignore-scripts set
	@# leaves no node_modules/.bin/node.
	@$(NODE_BIN)/node -e 'if (process.version !== "v" + require("./package.json").devDependencies.node) process.exit(1)' \
		2>/dev/null || { echo "error: node_modules/.bin/node is missing or not the Node that package.json pins;" \
		"npm ci must run install scripts (check npm config get ignore-scripts)" >&2; exit 1; }
	@touch $@

system: ## Debian packages the live tests need (SYSTEM_PACKAGES: nginx, chromium, e2fsprogs, ...)
	@scripts/system-packages.sh $(SYSTEM_PACKAGES)

local: setup system ## the whole workbench on this machine (LOCAL_PORT=8080, LOCAL_HTTPS_PORT=8443); Ctrl-C stops it
	@# LOCAL_PORT and LOCAL_HTTPS_PORT reach it through the environment (its defaults: 8080, 8443).
	@$(PY) -m workbench local $(LOCAL_ARGS)

local-down: ## stop a `make local` left running
	@$(PY) -m workbench local --down

synth: setup ## synthesize the CloudFormation template into cdk.out/ (offline)
	$(CDK) synth --no-notices --quiet $(CDK_ARGS)
	@echo ">> template: cdk.out/$$($(PY) -c 'import json;print(json.load(open("cdk.json"))["context"]["stack_name"])').template.json"

test: setup $(CHECKOV) $(AWSCLI) system ## every test layer (unit, stack, aws, live)
	$(PYTEST) $(PYTEST_ARGS)

test-unit: setup system ## config, registry and rendered files (fast; nginx -t on the real binary)
	$(PYTEST) tests/unit $(PYTEST_ARGS)

test-stack: setup $(CHECKOV) ## the template as policy
	$(PYTEST) tests/stack $(PYTEST_ARGS)

test-aws: setup $(AWSCLI) ## deploy the template into moto
	$(PYTEST) tests/aws $(PYTEST_ARGS)

test-live: setup system ## real NGINX, JupyterHub, model API, Shiny app and Chromium on loopback
	$(PYTEST) tests/live $(PYTEST_ARGS)

lint: setup system ## ruff and shellcheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	shellcheck scripts/*.sh .ci/run tests/unit/*.sh assets/*.sh
	$(PY) -m pytest -q tests/unit/test_provision_script.py -k shellcheck

format: setup ## apply ruff's formatting and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

deploy: setup ## deploy to the AWS account of your current credentials
	$(CDK) deploy --no-notices $(CDK_ARGS)

image: setup ## bake the workbench image (EC2 Image Builder; 30-60 min; README: Baked image)
	$(CDK) deploy --no-notices 'Image/*' $(CDK_ARGS)

diff: setup ## what a deploy would change
	$(CDK) diff --no-notices $(CDK_ARGS)

destroy: setup ## delete the stack (see README: what is kept)
	$(CDK) destroy --no-notices $(CDK_ARGS)

# Security-group review. sg-diff compares BASE with the working tree (uncommitted changes too).
FORMAT ?= table
BASE ?= $(shell git merge-base origin/main HEAD 2>/dev/null || echo HEAD)

sg-rules: setup ## every security-group rule of the default config (FORMAT=table|markdown|json)
	$(PY) -m workbench sg-rules --synth --format $(FORMAT)

sg-diff: setup ## security-group changes since BASE (default: merge base with origin/main, else HEAD)
	@# exit 1 (changes that only narrow exposure) is not a failure of the target
	$(PY) -m workbench sg-diff $(BASE) . || [ $$? -eq 1 ]

sg-snapshot: setup ## regenerate security-groups.md (commit it with the change that caused it)
	$(PY) -m workbench sg-rules --snapshot

feature-flags: setup ## after a CDK upgrade: set every feature flag in cdk.json (keeps the templates)
	$(PY) scripts/feature-flags.py --write

clean: ## remove build outputs (keeps the venv and node_modules)
	rm -rf cdk.out .pytest_cache .ruff_cache

bench: setup system ## benchmarks: synth, tests, proxy, local mode (writes BENCHMARKS.md)
	@scripts/system-packages.sh wrk=wrk
	$(PY) -m bench.run $(BENCH_ARGS)

doctor: setup ## where traffic to the workbench stops (URL=http://host[:port], default: the stack)
	$(PY) -m workbench doctor $(if $(URL),--url $(URL)) $(DOCTOR_ARGS)
