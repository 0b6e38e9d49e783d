"""The whole path, through real processes: MLflow record, promotion, HTTP answers, batching."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.scorer import Scorer
from tests.integration.conftest import CLI, ROWS, SEED, Pipeline, isolated_env

pytestmark = pytest.mark.integration


def applicants(pipeline: Pipeline, n: int, offset: int = 0) -> list[dict]:
    table = pd.read_parquet(
        Path(
            pipeline.env["CREDIT_DATA_DIR"],
            "generated",
            f"{ROWS}-{SEED}",
            "application_train.parquet",
        )
    )
    rows = table.drop(columns="TARGET").iloc[offset : offset + n]
    # JSON has no NaN: a missing value is simply left out, as a client would do.
    return [
        {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
        for row in json.loads(rows.to_json(orient="records"))
    ]


def post(url: str, endpoint: str, payload, **kwargs) -> httpx.Response:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return httpx.post(
        f"{url}/{endpoint}",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
        **kwargs,
    )


def test_mlflow_records_the_run(pipeline):
    mlflow.set_tracking_uri(pipeline.env["MLFLOW_TRACKING_URI"])
    runs = mlflow.search_runs(experiment_names=["credit-scoring"])
    parent = runs[runs["tags.candidate"] == "true"].iloc[0]
    trials = runs[runs["tags.mlflow.parentRunId"] == parent.run_id]
    assert len(trials) == 2 and set(trials["tags.family"]) == {"lightgbm"}  # one per trial
    assert parent["tags.family"] == "lightgbm"
    assert np.isfinite(parent["metrics.cv_auc_mean_lightgbm"])
    for metric in (
        "test_roc_auc",
        "test_recall",
        "test_business_cost",
        "threshold",
        "bayes_roc_auc",
    ):
        assert np.isfinite(parent[f"metrics.{metric}"]), metric
    assert parent["metrics.test_roc_auc"] > 0.65
    assert parent["metrics.test_roc_auc"] <= parent["metrics.bayes_roc_auc"] + 0.03
    assert parent["params.num_leaves"] and parent["params.fn_cost"] == "10.0"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(parent.run_id)}
    assert {
        "scorer",
        "input_schema.json",
        "feature_names.json",
        "shap_global_importance.png",
    } <= artifacts
    assert isinstance(mlflow.lightgbm.load_model(f"runs:/{parent.run_id}/model"), lgb.Booster)


def test_promoted_model_carries_what_the_service_needs(pipeline):
    scorer = Scorer.load(pipeline.model_dir())
    assert 0 < scorer.threshold < 1
    assert len(scorer.schema.fields) == 120
    assert scorer.reference is not None and "TARGET" in scorer.reference
    assert scorer.metadata["mlflow_run_id"]
    assert scorer.metadata["metrics"]["test_roc_auc"] > 0.65


def test_predict_matches_the_model_in_process(pipeline, service_url):
    rows = applicants(pipeline, 8)
    response = post(service_url, "predict", {"applications": rows})
    assert response.status_code == 200, response.text
    answers = response.json()
    scorer = Scorer.load(pipeline.model_dir())
    expected = scorer.predict_proba(pd.DataFrame(rows))
    assert len(answers) == len(rows)
    for row, answer, proba in zip(rows, answers, expected, strict=True):
        assert answer["SK_ID_CURR"] == row["SK_ID_CURR"]
        assert answer["probability"] == pytest.approx(proba, abs=1e-9)
        assert answer["threshold"] == pytest.approx(scorer.threshold)
        assert answer["decision"] == ("refused" if proba >= scorer.threshold else "granted")
        # A refusal's principal reasons, strongest first; a granted applicant gets none.
        sizes = [r["contribution"] for r in answer["reasons"]]
        assert sizes == sorted(sizes, reverse=True) and all(size > 0 for size in sizes)
        assert (len(sizes) > 0) == (answer["decision"] == "refused") and len(sizes) <= 4


def test_explain_contributions_add_up_to_the_raw_score(pipeline, service_url):
    rows = applicants(pipeline, 6, offset=100)
    response = post(service_url, "explain", {"applications": rows})
    assert response.status_code == 200, response.text
    booster = lgb.Booster(model_file=str(pipeline.model_dir() / "model.txt"))
    scorer = Scorer.load(pipeline.model_dir())
    raw = booster.predict(scorer.features(pd.DataFrame(rows)).to_numpy(), raw_score=True)
    for answer, score in zip(response.json(), raw, strict=True):
        assert len(answer["contributions"]) == len(scorer.feature_names)
        total = answer["base_value"] + sum(c["contribution"] for c in answer["contributions"])
        assert total == pytest.approx(score, abs=1e-6)
        # The reported probability is the calibrated one (sigmoid of the raw score when the
        # training run found no calibration that helps).
        calibrated = scorer.calibration.apply(np.array([score]))[0]
        assert answer["probability"] == pytest.approx(calibrated, abs=1e-9)


def test_concurrent_requests_are_batched(pipeline, service_url):
    rows = applicants(pipeline, 64, offset=200)
    with ThreadPoolExecutor(max_workers=32) as pool:
        codes = list(
            pool.map(
                lambda r: post(service_url, "predict", {"applications": [r]}).status_code, rows
            )
        )
    assert codes == [200] * len(rows)
    metrics = httpx.get(f"{service_url}/metrics", timeout=10).text
    sums = {
        line.split("{")[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("bentoml_service_adaptive_batch_size_")
        and 'method_name="predict"' in line
        and not line.startswith("bentoml_service_adaptive_batch_size_bucket")
    }
    batches = sums["bentoml_service_adaptive_batch_size_count"]
    assert sums["bentoml_service_adaptive_batch_size_sum"] / batches > 1, sums


def test_missing_fields_are_missing_values(service_url):
    response = post(service_url, "predict", {"applications": [{}]})
    assert response.status_code == 200
    assert 0 < response.json()[0]["probability"] < 1


def test_promote_without_a_run_says_what_to_do(tmp_path):
    empty = Pipeline(isolated_env(tmp_path), tmp_path)
    result = empty.run(CLI, "promote", check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("error: no finished training run")
    assert "Traceback" not in result.stderr


def test_service_without_a_model_says_what_to_do(tmp_path):
    empty = Pipeline(isolated_env(tmp_path), tmp_path)
    result = empty.run("-c", "import credit_scoring.serving.service", check=False)
    assert result.returncode != 0
    assert "no model credit_scoring:latest in the BentoML store" in result.stderr
