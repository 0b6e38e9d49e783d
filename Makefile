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

FULL_ROWS ?= 307511
FULL_TRIALS ?= 4

.PHONY: help install data train train-full promote serve run test lint format lock build clean bench-features

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
	$(PY) -m training.generate --rows $(ROWS)

train: install  ## train LightGBM with a cost-driven search, logged to MLflow
	$(PY) -m training.train --rows $(ROWS) --trials $(TRIALS)

train-full: install  ## Home Credit scale: 307,511 clients, all tables; time and peak memory in logs/
	@mkdir -p logs
	/usr/bin/time -v $(PY) -m training.generate --rows $(FULL_ROWS) 2>&1 | tee logs/generate-$(FULL_ROWS).log
	/usr/bin/time -v $(PY) -m training.train --source synthetic --rows $(FULL_ROWS) --trials $(FULL_TRIALS) \
		2>&1 | tee logs/train-$(FULL_ROWS).log

bench-features: install  ## time and peak memory of generation and feature building (ROWS)
	$(PY) benchmarks/features.py --rows $(ROWS)

promote: install  ## import the MLflow champion into the BentoML model store
	$(PY) -m training.promote

serve: install  ## serve the promoted model on http://127.0.0.1:$(PORT)
	$(VENV)/bin/bentoml serve service.service:CreditScoring --host 127.0.0.1 --port $(PORT)

run: install data train promote serve  ## everything, from nothing to a served model

test: install  ## lint, then the tests (unit + integration: real MLflow store, real bentoml serve)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: install  ## ruff lint and format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

lock:  ## re-resolve requirements.lock from pyproject.toml
	$(UV) pip compile pyproject.toml --extra dev --extra ops --python-version 3.11 -o requirements.lock

build: install  ## build the Bento (code + pinned packages + promoted model)
	$(VENV)/bin/bentoml build

clean:  ## remove generated data, MLflow store and caches (not the BentoML store)
	rm -rf data/generated mlflow .pytest_cache .ruff_cache
