"""The loop closed on a real service: generated applicants scored over HTTP, their generated
outcomes recorded through ``POST /outcomes`` with the loan system's key (the scoring key is
refused), then the realised-performance report: on unshifted traffic the realised AUC's CI
holds the hold-out AUC; on a shifted population whose risk changed it is clearly lower."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from load_tests import traffic
from tests.integration.conftest import CLI, Pipeline, serve

pytestmark = pytest.mark.integration
API_KEY, OUTCOMES_KEY = "scoring-key-for-tests", "loan-system-key-for-tests"
ROWS, SEED = 300, 11


@pytest.fixture(scope="module")
def loop(pipeline: Pipeline, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A server with both keys and a decision record of its own."""
    record = tmp_path_factory.mktemp("loop") / "requests.sqlite"
    env = {"CREDIT_API_KEY": API_KEY, "CREDIT_OUTCOMES_KEY": OUTCOMES_KEY}
    with serve(pipeline, CREDIT_REQUEST_LOG=str(record), **env) as url:
        yield url, record


def _performance(pipeline: Pipeline, record: Path, folder: Path, since: str, until: str) -> dict:
    """The CLI's report, judged a year and a day from now (outcomes drawn for the whole
    window at once: every cohort mature)."""
    as_of = (pd.Timestamp.now(tz="UTC") + pd.DateOffset(months=12, days=1)).isoformat()
    pipeline.run(CLI, "performance", "--log", str(record), "--since", since, "--until", until,
                 "--as-of", as_of, "--output-dir", str(folder))  # fmt: skip
    return json.loads((folder / "performance.json").read_text())


def test_realised_auc_holds_on_unshifted_traffic_and_falls_when_the_risk_changed(
    pipeline: Pipeline, loop: tuple[str, Path], tmp_path: Path
):
    url, record = loop
    scoring = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120
    )
    started = pd.Timestamp.now(tz="UTC").isoformat()
    data, applications = traffic.applicants(ROWS, SEED, shifted=False)
    ids = [a["SK_ID_CURR"] for a in traffic.send(scoring, applications)]
    rows = traffic.outcomes(data, ids, shifted=False, seed=SEED)

    # The scoring key (or none) cannot write outcomes; the loan system's key can, once.
    assert traffic.post_outcomes(scoring, rows, API_KEY).status_code == 401
    assert httpx.post(f"{url}/outcomes", json={"outcomes": rows}).status_code == 401
    first = traffic.post_outcomes(scoring, rows, OUTCOMES_KEY)
    assert first.json() == {"recorded": ROWS, "unchanged": 0, "unknown_ids": []}
    again = traffic.post_outcomes(
        scoring, [*rows[:50], {**rows[0], "applicant_id": 1}], OUTCOMES_KEY
    )
    assert again.json() == {"recorded": 0, "unchanged": 50, "unknown_ids": ["1"]}
    flipped = {**rows[0], "defaulted": not rows[0]["defaulted"]}
    conflict = traffic.post_outcomes(scoring, [flipped], OUTCOMES_KEY)
    assert conflict.status_code == 409 and str(rows[0]["applicant_id"]) in conflict.text

    middle = pd.Timestamp.now(tz="UTC").isoformat()
    data, applications = traffic.applicants(ROWS, SEED, shifted=True)
    ids = [a["SK_ID_CURR"] for a in traffic.send(scoring, applications)]
    shifted_rows = traffic.outcomes(data, ids, shifted=True, seed=SEED)
    assert traffic.post_outcomes(scoring, shifted_rows, OUTCOMES_KEY).json()["recorded"] == ROWS
    ended = pd.Timestamp.now(tz="UTC").isoformat()

    normal = _performance(pipeline, record, tmp_path / "normal", started, middle)
    drifted = _performance(pipeline, record, tmp_path / "shifted", middle, ended)
    holdout = normal["models"]["champion"]["training"]["roc_auc"]
    realised = normal["cohorts"][-1]["champion"]
    assert normal["cohorts"][-1]["applicants"] == ROWS and normal["complete_information"]
    assert realised["roc_auc_low"] <= holdout <= realised["roc_auc_high"], (realised, holdout)
    worse = drifted["cohorts"][-1]["champion"]
    assert worse["roc_auc_high"] < holdout and worse["roc_auc"] < realised["roc_auc"] - 0.1, worse
    assert any("below the bound" in alert for alert in drifted["alerts"]), drifted["alerts"]


def test_outcomes_are_closed_without_an_outcomes_key(service_url: str):
    answer = httpx.post(f"{service_url}/outcomes", json={"outcomes": []})
    assert answer.status_code == 403 and "CREDIT_OUTCOMES_KEY" in answer.text
