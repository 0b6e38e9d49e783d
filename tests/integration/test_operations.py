"""What operators rely on: scoring by id, metadata, the request log, the API key."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest

from credit_scoring.core.request_log import read_log, verify
from credit_scoring.core.scorer import Scorer
from tests.integration.conftest import API_KEY, METRICS_TOKEN, kill_server, serve
from tests.integration.test_pipeline import applicants, post

pytestmark = pytest.mark.integration


def test_clients_and_scoring_by_id_match_predict(pipeline, service_url):
    scorer = Scorer.load(pipeline.model_dir())
    ids = post(service_url, "clients", {}).json()
    assert ids == scorer.reference["SK_ID_CURR"].tolist()
    chosen = ids[:3]
    by_id = post(service_url, "predict_client", {"client_ids": chosen})
    assert by_id.status_code == 200, by_id.text
    expected = scorer.predict_proba(*scorer.reference_rows(chosen))
    assert [a["SK_ID_CURR"] for a in by_id.json()] == chosen
    assert [a["probability"] for a in by_id.json()] == pytest.approx(list(expected), abs=1e-9)


def test_unknown_client_id_is_404_naming_it(service_url):
    response = post(service_url, "predict_client", {"client_ids": [1]})
    assert response.status_code == 404
    # An object, as the spec says (BentoML 1.4.40 alone answers a one-element list).
    assert response.json() == {"error": "client ids not in the reference sample: [1]"}
    assert post(service_url, "predict_client", {"client_ids": []}).status_code == 400


def test_metadata_names_the_served_run(pipeline, service_url):
    info = post(service_url, "metadata", {}).json()
    mlflow.set_tracking_uri(pipeline.env["MLFLOW_TRACKING_URI"])
    run = mlflow.get_run(info["mlflow_run_id"])
    assert run.data.tags["candidate"] == "true"
    assert info["threshold"] == pytest.approx(run.data.metrics["threshold"])
    assert info["model_tag"].startswith("credit_scoring:")
    assert info["costs"] == {"fn_cost": 10.0, "fp_cost": 1.0}
    assert len(info["features"]) > len(info["input_fields"]) == 120


def test_every_scored_applicant_is_logged(pipeline, service_url):
    log_path = Path(pipeline.env["CREDIT_REQUEST_LOG"])
    before = len(read_log(log_path)) if log_path.exists() else 0
    rows = applicants(pipeline, 5, offset=500)
    answers = post(service_url, "predict", {"applications": rows}).json()
    log = read_log(log_path)
    new = log.iloc[before:]
    assert len(new) == 5
    assert new["endpoint"].eq("predict").all()
    assert new["client_id"].tolist() == [r["SK_ID_CURR"] for r in rows]
    assert new["probability"].tolist() == pytest.approx([a["probability"] for a in answers])
    assert new["decision"].tolist() == [a["decision"] for a in answers]
    assert new["reasons"].tolist() == [a["reasons"] for a in answers]
    assert new["request_id"].nunique() == 1 and new["request_id"].notna().all()
    assert new["bundle_digest"].str.fullmatch("[0-9a-f]{64}").all()
    # The raw fields are kept as sent, so the drift report sees what production saw.
    sent = pd.DataFrame(rows)
    assert new["AMT_CREDIT"].tolist() == pytest.approx(sent["AMT_CREDIT"].tolist())


def test_api_key_guards_scoring_but_not_probes(keyed_service_url):
    url, body = keyed_service_url, {"applications": [{}]}
    missing = post(url, "predict", body)
    assert missing.status_code == 401 and "API key" in missing.text
    bad = httpx.post(f"{url}/predict", json=body, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    # HTTP auth schemes are case-insensitive (RFC 9110): "bearer" is "Bearer".
    for scheme in ("Bearer", "bearer", "BEARER"):
        headers = {"Authorization": f"{scheme} {API_KEY}"}
        good = httpx.post(f"{url}/predict", json=body, headers=headers, timeout=30)
        assert good.status_code == 200, scheme
    for probe in ("/readyz", "/livez", "/docs.json", "/"):
        assert httpx.get(f"{url}{probe}", timeout=10).status_code == 200, probe


def test_metrics_have_a_token_of_their_own(keyed_service_url):
    metrics = f"{keyed_service_url}/metrics"
    assert httpx.get(metrics, timeout=10).status_code == 401
    api_key = {"Authorization": f"Bearer {API_KEY}"}
    assert httpx.get(metrics, headers=api_key, timeout=10).status_code == 401
    scraper = httpx.get(metrics, headers={"Authorization": f"bearer {METRICS_TOKEN}"}, timeout=10)
    assert scraper.status_code == 200 and "credit_decisions_total" in scraper.text


def test_explain_client_and_global_importance_come_from_the_reference(pipeline, service_url):
    scorer = Scorer.load(pipeline.model_dir())
    client_id = int(scorer.reference["SK_ID_CURR"].iloc[0])
    (answer,) = post(service_url, "explain_client", {"client_ids": [client_id]}).json()
    (predicted,) = post(service_url, "predict_client", {"client_ids": [client_id]}).json()
    assert answer["SK_ID_CURR"] == client_id
    assert answer["probability"] == pytest.approx(predicted["probability"], abs=1e-12)
    pushes = {c["feature"]: c["contribution"] for c in answer["contributions"]}
    assert all(pushes[r["feature"]] > 0 for r in predicted["reasons"])
    importance = post(service_url, "metadata", {}).json()["global_importance"]
    assert list(importance) == list(scorer.global_importance())
    assert list(importance.values()) == pytest.approx(list(scorer.global_importance().values()))
    assert set(importance) == set(scorer.feature_names)


def test_request_log_survives_a_crash_and_a_restart(pipeline, tmp_path):
    """kill -9 in the middle of traffic: every answered applicant is in the log, the file is
    intact, and a restarted service appends after the old rows."""
    log_path = tmp_path / "requests.sqlite"
    rows = applicants(pipeline, 600, offset=1000)
    answered: list[int] = []
    with serve(pipeline, CREDIT_REQUEST_LOG=str(log_path)) as url:

        def send(row: dict) -> None:
            try:
                if post(url, "predict", {"applications": [row]}).status_code == 200:
                    answered.append(row["SK_ID_CURR"])
            except httpx.TransportError:
                pass  # the server died under this request

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(send, row) for row in rows]
            while len(answered) < 10:
                time.sleep(0.01)
            kill_server(url)
            for future in futures:
                future.result()
    assert 10 <= len(answered) < len(rows)  # the kill really fell in the middle of the traffic
    with sqlite3.connect(log_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    logged = read_log(log_path)
    assert set(answered) <= set(logged["client_id"])
    assert logged["probability"].notna().all() and logged["decision"].notna().all()
    with serve(pipeline, CREDIT_REQUEST_LOG=str(log_path)) as url:
        post(url, "predict", {"applications": applicants(pipeline, 3, offset=1700)})
    after = read_log(log_path)
    assert len(after) == len(logged) + 3
    assert after["seq"].tolist() == list(range(1, len(after) + 1))
    assert verify(log_path).rows == len(after)
