"""Drift monitoring end to end: generated applicants through the real service, into its request
log, then the drift CLI on that log against the promoted model's reference sample.

Unshifted applicants come from the generator the model was trained on (no drift expected);
shifted ones from ``shift_population`` (lower external scores, younger, larger loans).
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import httpx
import pandas as pd
import pytest

from credit_scoring.core.scorer import Scorer
from credit_scoring.monitoring import drift
from credit_scoring.profiles.home_credit.synthetic import generate, shift_population
from tests.integration.conftest import CLI, Pipeline

pytestmark = pytest.mark.integration

APPLICANTS, BATCH = 400, 50
SHIFTED_FIELDS = {
    "EXT_SOURCE_1",
    "EXT_SOURCE_2",
    "EXT_SOURCE_3",
    "DAYS_BIRTH",
    "DAYS_EMPLOYED",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "AMT_GOODS_PRICE",
}


def json_rows(table: pd.DataFrame) -> list[dict]:
    rows = json.loads(table.drop(columns="TARGET", errors="ignore").to_json(orient="records"))
    return [
        {k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))} for r in rows
    ]


def send(url: str, rows: list[dict]) -> None:
    def post(batch: list[dict]) -> int:
        response = httpx.post(f"{url}/predict", json={"applications": batch}, timeout=60)
        return response.status_code

    batches = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(post, batches)) == [200] * len(batches)


def served_model(pipeline: Pipeline) -> tuple[Scorer, str]:
    folder = pipeline.model_dir()
    return Scorer.load(folder), f"credit_scoring:{folder.name}"


@pytest.fixture(scope="module")
def reports(pipeline: Pipeline, service_url: str) -> dict[str, tuple[dict, Path]]:
    start = time.time()
    send(service_url, json_rows(generate(APPLICANTS, seed=21).applications))
    middle = time.time()
    # Other ids than the unshifted window's: distinct applicants, as in production.
    shifted = shift_population(generate(APPLICANTS, seed=22).applications)
    send(service_url, json_rows(shifted.assign(SK_ID_CURR=shifted["SK_ID_CURR"] + 10**6)))
    out = pipeline.home / "reports"
    # The unshifted window through the CLI, as a user runs it; the shifted one in process
    # (same code after argument parsing) to spare a second start of evidently and bentoml.
    window = ["--since", str(start), "--until", str(middle)]
    pipeline.run(CLI, "drift", "--output-dir", str(out / "unshifted"), *window)
    unshifted = json.loads((out / "unshifted" / "summary.json").read_text())
    log = Path(pipeline.env["CREDIT_REQUEST_LOG"])
    since = pd.Timestamp(middle, unit="s", tz="UTC")
    summary = drift.run(log, *served_model(pipeline), out / "shifted", since=since)
    return {
        "unshifted": (unshifted, out / "unshifted"),
        "shifted": (asdict(summary), out / "shifted"),
    }


def test_unshifted_traffic_shows_no_drift(reports):
    summary, folder = reports["unshifted"]
    assert summary["current_rows"] == APPLICANTS
    assert summary["reference_rows"] > 1000
    assert summary["drifted_fields"] == [], summary["psi"]
    assert summary["dataset_drift"] is False
    assert max(summary["psi"].values()) < summary["threshold"]
    for name in ("drift_report.html", "scores_over_time.html", "scores_over_time.png"):
        assert (folder / name).stat().st_size > 1000, name


def test_shifted_traffic_drifts_on_the_shifted_fields(reports):
    summary, _ = reports["shifted"]
    assert summary["dataset_drift"] is True
    drifted, tested = set(summary["drifted_fields"]), set(summary["tested_fields"])
    # The model's most important inputs include the external scores, age and amounts.
    assert len(tested & SHIFTED_FIELDS) >= 4, tested
    # At most one unshifted field crosses its threshold by chance (~20 fields tested on a
    # few hundred requests); the shifted ones are what drifts.
    assert len(drifted - {"probability"} - SHIFTED_FIELDS) <= 1, summary["psi"]
    assert {"EXT_SOURCE_2", "EXT_SOURCE_3", "AMT_CREDIT"} & tested <= drifted, summary["psi"]
    assert "probability" in drifted  # lower scores, younger, larger loans: riskier applicants


def test_shifted_applicants_are_refused_more_often(reports):
    before, after = reports["unshifted"][0]["decisions"], reports["shifted"][0]["decisions"]
    assert after["current_mean_probability"] > before["current_mean_probability"]
    assert after["current_refusal_rate"] > before["current_refusal_rate"]
    # The unshifted traffic is scored like the reference sample.
    assert before["current_refusal_rate"] == pytest.approx(
        before["reference_refusal_rate"], abs=0.1
    )


def test_drift_on_an_empty_window_says_why(pipeline, reports, tmp_path):
    log = Path(pipeline.env["CREDIT_REQUEST_LOG"])
    until = pd.Timestamp("2000-01-02", tz="UTC")
    with pytest.raises(
        drift.DriftError, match="no logged request to predict, explain scored by credit_scoring:"
    ):
        drift.run(log, *served_model(pipeline), tmp_path, until=until)
