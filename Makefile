# credit-scoring-bento. `make run` = install + generate + train + promote + serve on :3000.
# `make test` = install + the test suite. Everything installs into ./.venv from requirements.lock.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed
ROWS   ?= 50000
TRIALS ?= 4
PORT   ?= 3000
# Your own table instead of Home Credit: make train DATA=loans.csv TARGET=status ID=loan_ref
# [POSITIVE_LABEL=bad] [SCHEMA_OVERRIDE=schema.yaml]; FN_COST / FP_COST set the cost matrix.
DATA   ?=
OWN_DATA = --data $(DATA) --target $(TARGET) --id $(ID) \
	$(if $(POSITIVE_LABEL),--positive-label $(POSITIVE_LABEL)) \
	$(if $(SCHEMA_OVERRIDE),--schema-override $(SCHEMA_OVERRIDE))
COSTS  = $(if $(FN_COST),--fn-cost $(FN_COST)) $(if $(FP_COST),--fp-cost $(FP_COST))

FULL_ROWS ?= 307511
FULL_TRIALS ?= 4

.PHONY: help install data train train-full promote serve run test lint format lock build clean bench-features bench-serving

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==0.13.8
	$(UV) pip install --python $(PY) --quiet -r requirements.lock
	$(UV) pip install --python $(PY) --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the locked dependencies (reused when up to date)

data: install  ## generate the synthetic data set (ROWS, cached)
	$(PY) -m credit_scoring.pipeline.generate --rows $(ROWS)

train: install  ## train LightGBM with a cost-driven search, logged to MLflow (DATA=your file)
	$(PY) -m credit_scoring.pipeline.train $(if $(DATA),$(OWN_DATA),--rows $(ROWS)) --trials $(TRIALS) $(COSTS)

train-full: install  ## Home Credit scale: 307,511 clients, all tables; time and peak memory in logs/
	@mkdir -p logs
	/usr/bin/time -v $(PY) -m credit_scoring.pipeline.generate --rows $(FULL_ROWS) 2>&1 | tee logs/generate-$(FULL_ROWS).log
	/usr/bin/time -v $(PY) -m credit_scoring.pipeline.train --source synthetic --rows $(FULL_ROWS) --trials $(FULL_TRIALS) \
		2>&1 | tee logs/train-$(FULL_ROWS).log

bench-features: install  ## time and peak memory of generation and feature building (ROWS)
	$(PY) benchmarks/features.py --rows $(ROWS)

bench-serving: install  ## serving req/s, p50/p99 per variant and vs MLServer, with wrk (apt: wrk); ~6 min
	$(PY) -m benchmarks.serving --markdown reports/bench-serving.md

promote: install  ## import the MLflow champion into the BentoML model store
	$(PY) -m credit_scoring.pipeline.promote

serve: install  ## serve the promoted model on http://127.0.0.1:$(PORT)
	$(VENV)/bin/bentoml serve credit_scoring.serving.service:CreditScoring --host 127.0.0.1 --port $(PORT)

run: install $(if $(DATA),,data) train promote serve  ## everything, from nothing to a served model

test: install  ## lint, then the tests (unit + integration: real MLflow store, real bentoml serve)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest

lint: install  ## ruff lint and format check, import contracts (import-linter), types (mypy)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

lock:  ## re-resolve requirements.lock from pyproject.toml
	$(UV) pip compile pyproject.toml --extra dev --extra ops --python-version 3.11 -o requirements.lock

build: install  ## build the Bento (code + pinned packages + promoted model)
	$(VENV)/bin/bentoml build

clean:  ## remove generated data, MLflow store and caches (not the BentoML store)
	rm -rf data/generated mlflow .pytest_cache .ruff_cache

# --- Credit officer UI (Streamlit, talks to the service over HTTP only) ---------------------
UI_PORT ?= 8501

.PHONY: ui ui-screenshot

ui: install  ## the credit-officer page on :8501 (starts bentoml serve if no service answers)
	$(PY) -m ui.launch --port $(UI_PORT)

ui-screenshot: install  ## the page in a real headless Chromium, against a real service -> docs/ui.png
	@test -x /usr/bin/chromium || { echo "needs Debian's Chromium: apt-get install chromium"; exit 1; }
	$(PY) -m pytest tests/integration/test_ui_browser.py -m browser

# --- Container image (deploy/): not in `make test`, it needs root, apt packages and minutes ---
.PHONY: image image-smoke image-deps

image: install  ## OCI image of the promoted model -> build/image/*.oci.tar (Docker, else buildah)
	$(PY) -m deploy.image build

image-smoke: install  ## run the built image (127.0.0.1 only), score over HTTP, compare, remove
	$(PY) -m deploy.image smoke

image-deps:  ## apt-install the daemonless image tools (root): buildah podman skopeo runc debootstrap
	apt-get update -qq && apt-get install -y -qq buildah podman skopeo runc debootstrap

# Load tests and drift monitoring (load_tests/, monitoring/). URL=http://127.0.0.1:3000 uses a
# running service instead of starting one; SHIFTED=1 sends a drifted population; reports go to
# reports/load/ and reports/drift/.
.PHONY: load-test load-capacity drift

load-test: install  ## bounded Locust run (USERS, DURATION s, BUDGET ms p95); fails over budget
	$(PY) -m load_tests.run $(if $(URL),--url $(URL)) --users $(or $(USERS),10) \
		--run-time $(or $(DURATION),30) --p95-budget-ms $(or $(BUDGET),1000) \
		$(if $(SHIFTED),--shifted)

load-capacity: install  ## step load (+5 users / 20 s) until p95 > BUDGET ms: the capacity
	$(PY) -m load_tests.run --capacity $(if $(URL),--url $(URL)) --step-users 5 \
		--step-seconds 20 --max-users 150 --p95-budget-ms $(or $(BUDGET),1000)

drift: install  ## Evidently drift report: logged requests (SINCE=ISO time) vs training reference
	$(PY) -m credit_scoring.monitoring.drift $(if $(SINCE),--since $(SINCE))
