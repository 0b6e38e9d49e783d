# credit-scoring-bento. `make run` = install + generate + train + promote + serve on :3000.
# `make test` = install + the test suite. Everything installs into ./.venv from requirements.lock.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/credit-scoring
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
# Model families that compete (default all three) and the LightGBM search's time budget (s).
SEARCH = $(if $(FAMILIES),--families $(FAMILIES)) $(if $(TIMEOUT),--timeout $(TIMEOUT))

FULL_ROWS ?= 307511
FULL_TRIALS ?= 4

.PHONY: help install data train train-full promote promote-challenger switch rollback serve run test fuzz lint format lock build clean bench-features bench-serving bench-request-path profile-serving bench-families

help:  ## list the targets and the variables they read
	@echo "targets:"
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-19s %s\n", $$1, $$2}'
	@echo "variables (make TARGET NAME=value):"
	@grep -E '^# var [A-Z_]+ ' $(MAKEFILE_LIST) | sed 's/^# var /  /' | awk '{n=$$1; $$1=""; printf "  %-15s%s\n", n, $$0}'

# var ROWS            generated Home Credit clients for data / train / bench-features (50000)
# var TRIALS          LightGBM configurations train tries (4)
# var FAMILIES        model families that compete, e.g. lightgbm,logistic (all three)
# var TIMEOUT         time budget in seconds of the LightGBM search (none)
# var FULL_ROWS       clients for train-full (307511, Home Credit's size)
# var FULL_TRIALS     configurations for train-full (4)
# var DATA            your own table (.csv/.parquet) for train instead of Home Credit; needs TARGET, ID
# var TARGET          with DATA: the default column (1 or POSITIVE_LABEL = default)
# var ID              with DATA: the id column
# var POSITIVE_LABEL  with DATA: the target value meaning default, when not 0/1 (e.g. bad)
# var SCHEMA_OVERRIDE with DATA: YAML/JSON file excluding columns or setting kinds, bounds
# var DATASET         promote: the dataset whose champion to import (default: the newest trained)
# var JUSTIFICATION   promote: why a model the fairness gate refuses is promoted anyway (with REVIEWER)
# var REVIEWER        promote: who decided the override; switch / rollback: who decides (recorded)
# var RUN_ID          promote-challenger: the MLflow run to import (default: newest non-champion version)
# var WHY             switch / rollback: why, in the reviewer's words (recorded in the registry)
# var FN_COST         cost of granting a loan to a defaulter (10)
# var FP_COST         cost of refusing a client who would repay (1)
# var PORT            port of serve / run (3000)
# var UI_PORT         port of the ui page (8501)
# var URL             load-test / load-capacity: a running service instead of starting one
# var USERS           load-test: simulated users (10)
# var DURATION        load-test / k8s-resources: seconds of load (30)
# var BUDGET          load-test / load-capacity: p95 latency budget in ms (1000)
# var SHIFTED         load-test: SHIFTED=1 sends a drifted population
# var SINCE           drift: only requests logged at/after this time (ISO or unix s)
# var TRAFFIC         outcomes-demo: generated applicants sent (400); SHIFTED=1: risk changed too
# var OUTCOMES_KEY    outcomes-demo with URL: the running service's CREDIT_OUTCOMES_KEY
# var APPLICANT       erase: the applicant id whose inputs leave the decision record
# var REASON          erase: why (kept in the tombstone; default: the applicant's request)
# var FUZZ_EXAMPLES   fuzz: generated cases per operation and phase (200)
# var RPS             k8s-resources: target load of one pod, /predict requests per second (50)
# var PYTHON          the interpreter that creates .venv (python3)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==0.13.8
	$(UV) pip install --python $(PY) --quiet --compile-bytecode -r requirements.lock
	$(UV) pip install --python $(PY) --quiet --no-deps -e .
	@$(MAKE) --no-print-directory java
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the locked dependencies (reused when up to date)

data: install  ## generate the synthetic data set (ROWS, cached)
	$(CLI) generate --rows $(ROWS)

train: install  ## families compete on repeated CV (LightGBM, logistic, scorecard), MLflow (DATA=your file)
	$(CLI) train $(if $(DATA),$(OWN_DATA),--rows $(ROWS)) --trials $(TRIALS) $(COSTS) $(SEARCH)

train-full: install  ## Home Credit scale: 307,511 clients, all tables; time and peak memory in logs/
	@mkdir -p logs
	/usr/bin/time -v $(CLI) generate --rows $(FULL_ROWS) 2>&1 | tee logs/generate-$(FULL_ROWS).log
	/usr/bin/time -v $(CLI) train --source synthetic --rows $(FULL_ROWS) --trials $(FULL_TRIALS) \
		2>&1 | tee logs/train-$(FULL_ROWS).log

bench-features: install  ## time and peak memory of generation and feature building (ROWS)
	$(PY) benchmarks/features.py --rows $(ROWS)

bench-families: install  ## CV AUC per model family, promoted family, hold-out AUC + CI per case (~20 min)
	$(PY) -m benchmarks.model_families --trials $(TRIALS) --rows $(ROWS) --markdown reports/bench-families.md

bench-serving: install  ## serving req/s, p50/p99 per variant and request kind, vs MLServer, with wrk (apt: wrk); ~15 min
	$(PY) -m benchmarks.serving --markdown reports/bench-serving.md

bench-request-path: install  ## each stage of score/predict in process, ms per batch of 1, 8, 32 (promoted model)
	PYTHONPATH=. $(PY) -m benchmarks.request_path

profile-serving: install  ## py-spy on both loaded workers: share of samples per stage (needs py-spy, root)
	PYTHONPATH=. $(PY) -m benchmarks.profile_serving

promote: install  ## import the MLflow champion into the BentoML model store
	$(CLI) promote $(if $(DATASET),--dataset $(DATASET)) \
	  $(if $(JUSTIFICATION),--justification "$(JUSTIFICATION)" --reviewer "$(REVIEWER)")

promote-challenger: install  ## import a version as the challenger (same gate), scored in shadow
	$(CLI) promote --challenger $(if $(RUN_ID),--run-id $(RUN_ID),$(if $(DATASET),--dataset $(DATASET))) \
	  $(if $(JUSTIFICATION),--justification "$(JUSTIFICATION)" --reviewer "$(REVIEWER)")

switch: install  ## make the challenger the champion (REVIEWER, WHY recorded); restart to serve it
	$(CLI) switch --reviewer "$(REVIEWER)" --why "$(WHY)" $(if $(DATASET),--dataset $(DATASET))

rollback: install  ## return to the previous champion (REVIEWER, WHY recorded); restart to serve it
	$(CLI) rollback --reviewer "$(REVIEWER)" --why "$(WHY)" $(if $(DATASET),--dataset $(DATASET))

serve: install  ## serve the promoted model on http://127.0.0.1:$(PORT), saying what to open next
	$(CLI) serve --host 127.0.0.1 --port $(PORT)

run: install $(if $(DATA),,data) train promote serve  ## everything, from nothing to a served model
# Generated Home Credit data fails the fairness gate (applicants under 25 are approved at ~0.7x
# the rate of 55+); the demonstration promotes it as a recorded override (see the model card).
run: JUSTIFICATION ?= make run: demonstration on generated data, not for credit decisions
run: REVIEWER ?= make run

test: install  ## lint, then the tests (unit + integration: real MLflow store, real bentoml serve)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2 --dist loadfile  # two workers, a test file each: one per core

fuzz: install  ## Schemathesis, every phase and check, FUZZ_EXAMPLES cases per operation (200); ~10 min
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),200) FUZZ_PHASES=examples,coverage,fuzzing,stateful \
		FUZZ_EXCLUDE=positive_data_acceptance $(PY) -m pytest tests/integration/test_fuzz.py

lint: install  ## ruff lint and format check, import contracts (import-linter), types (mypy)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install  ## ruff fix and format
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
	$(CLI) ui --port $(UI_PORT)

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
	$(CLI) load-test $(if $(URL),--url $(URL)) --users $(or $(USERS),10) \
		--run-time $(or $(DURATION),30) --p95-budget-ms $(or $(BUDGET),1000) \
		$(if $(SHIFTED),--shifted)

load-capacity: install  ## step load (+5 users / 20 s) until p95 > BUDGET ms: the capacity
	$(CLI) load-test --capacity $(if $(URL),--url $(URL)) --step-users 5 \
		--step-seconds 20 --max-users 150 --p95-budget-ms $(or $(BUDGET),1000)

drift: install  ## Evidently drift report: logged requests (SINCE=ISO time) vs training reference
	$(CLI) drift $(if $(SINCE),--since $(SINCE))

# Outcomes and realised performance (load_tests/traffic.py, monitoring/): generated traffic ->
# its generated outcomes through POST /outcomes -> reports/performance[-shifted]/ and, with a
# challenger in shadow, reports/compare[-shifted]/.
.PHONY: outcomes-demo performance compare

outcomes-demo: install  ## traffic -> outcomes -> performance/compare reports (TRAFFIC, SHIFTED=0|1, URL)
	$(PY) -m load_tests.traffic --rows $(or $(TRAFFIC),400) --report \
		$(if $(URL),--url $(URL) --outcomes-key "$(OUTCOMES_KEY)") $(if $(filter 1,$(SHIFTED)),--shifted)

performance: install  ## realised performance from recorded outcomes (SINCE=ISO time)
	$(CLI) performance $(if $(SINCE),--since $(SINCE))

compare: install  ## champion vs challenger from the decision record (SINCE=ISO time)
	$(CLI) compare $(if $(SINCE),--since $(SINCE))

# The decision record (CREDIT_REQUEST_LOG): check its hash chain, erase an applicant, expire.
.PHONY: verify erase retention

verify: install  ## check the decision record's hash chain; exit 1 naming the first bad row
	$(CLI) verify

erase: install  ## remove one applicant's inputs from the decision record (APPLICANT=id)
	@test -n "$(APPLICANT)" || { echo "usage: make erase APPLICANT=<id> [REASON=...]"; exit 1; }
	$(CLI) erase --applicant "$(APPLICANT)" $(if $(REASON),--reason "$(REASON)")

retention: install  ## empty decision-record rows older than CREDIT_RETENTION_MONTHS (25)
	$(CLI) retention

# --- Kubernetes manifests run for real (deploy/k8s via podman kube play): not in `make test` ---
.PHONY: k8s-smoke k8s-resources

k8s-smoke: install  ## play deploy/k8s on the built image (podman, 127.0.0.1): probes, key, faults, timings
	$(PY) -m deploy.k8s_smoke

k8s-resources: install  ## re-measure a pod's CPU per request and peak memory (RPS, DURATION) for deploy/k8s
	$(PY) -m deploy.k8s_resources --rps $(or $(RPS),50) --seconds $(or $(DURATION),30)

# --- Portfolio scoring on Spark (credit_scoring/batch/): needs Java 17+ --------------------
# var PORTFOLIO       batch-score: the application table to score (default: the generated ROWS set)
# var MASTER          batch-score: Spark master (local[*]; local[2], spark://host:7077, yarn)
# var BUCKETS         batch-score: client buckets, one pandas call each (32)
PORTFOLIO ?= data/generated/$(ROWS)-0/application_train.parquet
JAVA_MIN  := 17

.PHONY: java batch-score bench-batch

java:  ## Java 17+ for Spark: apt-installs openjdk-17-jre-headless where missing (root)
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	if [ -n "$$v" ] && [ "$$v" -ge $(JAVA_MIN) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; \
	else \
		echo "note: batch-score (Spark) needs Java $(JAVA_MIN)+ and found $${v:-none}: install" \
		"openjdk-17-jre-headless (sudo apt-get install openjdk-17-jre-headless) or set" \
		"JAVA_HOME; everything else works without it"; \
	fi

batch-score: install  ## score every client of PORTFOLIO on Spark -> reports/portfolio/{scores,rejects}
	$(CLI) batch-score $(PORTFOLIO) $(if $(MASTER),--master '$(MASTER)') \
		$(if $(BUCKETS),--buckets $(BUCKETS))

bench-batch: install  ## batch-score local[1]/local[2] vs in-process: clients/s, peak memory (FULL_ROWS)
	$(PY) -m benchmarks.batch_scoring --rows $(FULL_ROWS)
