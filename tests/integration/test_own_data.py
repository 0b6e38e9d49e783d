"""Bring your own data, end to end through the real CLIs: two generated tables of other shapes
than Home Credit's (a Parquet file with many categoricals, missing values, a free-text column
excluded by an override file; a three-column CSV with string ids and a good/bad target) are
trained into one MLflow store and promoted in turn; the second is served by `bentoml serve`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.reasons import protected_fields
from credit_scoring.core.request_log import LoggedDecision, RequestLog
from credit_scoring.core.scorer import Scorer
from credit_scoring.own_table.examples import few_columns, many_categoricals
from tests.integration.conftest import CLI, Pipeline, isolated_env, serve
from tests.integration.test_pipeline import post
from tests.integration.test_ui import same_fields
from ui.client import ServiceClient

pytestmark = pytest.mark.integration
FAST = ("--trials", "1", "--folds", "2", "--repeats", "1", "--max-trees", "60", "--seed", "1")
LOANS_FIELDS = ["income", "age", "purpose"]


@pytest.fixture(scope="module")
def own(tmp_path_factory) -> Pipeline:
    root = tmp_path_factory.mktemp("own")
    p = Pipeline(isolated_env(root), root)
    customers = many_categoricals(800)
    customers["applied_on"] = pd.date_range("2024-01-01", periods=800, freq="D").astype(str)
    customers.to_parquet(root / "customers.parquet", index=False)
    (root / "schema.yaml").write_text(
        "exclude: [notes]\ndate_column: applied_on\n"
        "columns:\n  debt: {maximum: 1000000, description: Outstanding debt}\n"
    )
    few_columns(600).to_csv(root / "loans.csv", index=False)
    p.run(
        CLI, "train", "--data", str(root / "customers.parquet"),
        "--target", "default", "--id", "customer_id",
        "--schema-override", str(root / "schema.yaml"), "--families", "logistic", *FAST,
    )  # fmt: skip
    p.run(CLI, "promote")
    p.run(
        CLI, "train", "--data", str(root / "loans.csv"),
        "--target", "status", "--id", "loan_ref", "--positive-label", "bad",
        "--fn-cost", "4", "--fp-cost", "1.5", "--families", "scorecard",
        *FAST,
    )  # fmt: skip
    p.run(CLI, "promote")
    return p


@pytest.fixture(scope="module")
def models(own: Pipeline) -> dict[str, tuple[str, Scorer]]:
    """Promoted models by dataset name: (BentoML tag, scorer)."""
    out = {}
    for folder in (own.bentoml_home / "models" / "credit_scoring").iterdir():
        if folder.is_dir():
            scorer = Scorer.load(folder)
            out[scorer.schema.name] = (f"credit_scoring:{folder.name}", scorer)
    return out


@pytest.fixture(scope="module")
def url(own: Pipeline, models) -> Iterator[str]:
    with serve(own) as served:
        yield served


def loans(n: int, offset: int = 0) -> list[dict]:
    rows = few_columns(600).drop(columns="status").iloc[offset : offset + n]
    return json.loads(rows.to_json(orient="records"))


def test_runs_record_the_source_the_schema_and_the_costs(own, models):
    mlflow.set_tracking_uri(own.env["MLFLOW_TRACKING_URI"])
    runs = mlflow.search_runs(experiment_names=["credit-scoring"])
    runs = runs[runs["tags.candidate"] == "true"].set_index("params.schema_name")
    assert set(runs.index) == {"customers", "loans"}
    loans_run = runs.loc["loans"]
    assert loans_run["params.data_source"].startswith("file: ")
    assert (loans_run["params.id_column"], loans_run["params.positive_label"]) == (
        "loan_ref",
        "bad",
    )
    assert (loans_run["params.fn_cost"], loans_run["params.fp_cost"]) == ("4.0", "1.5")
    assert loans_run["metrics.test_roc_auc"] > 0.6
    # The reviewer's report: the AUC with its interval, Gini, KS, tables and curve.
    low, auc, high = (loans_run[f"metrics.test_roc_auc{k}"] for k in ("_ci_low", "", "_ci_high"))
    assert low < auc < high
    assert loans_run["metrics.test_gini"] == pytest.approx(2 * auc - 1)
    assert 0 < loans_run["metrics.test_ks"] < 1
    assert loans_run["tags.family"] == "scorecard"
    assert loans_run["tags.validation"].startswith("random stratified hold-out (20%)")
    assert np.isfinite(loans_run["metrics.cv_auc_mean_scorecard"])
    assert np.isfinite(loans_run["metrics.cv_auc_std_scorecard"])
    # No true risk is known for a user's data: no Bayes AUC, and nothing pretends otherwise.
    assert "metrics.bayes_roc_auc" not in runs or runs["metrics.bayes_roc_auc"].isna().all()
    client = mlflow.MlflowClient()
    stored = json.loads(
        Path(client.download_artifacts(loans_run["run_id"], "input_schema.json")).read_text()
    )
    assert [f["name"] for f in stored["fields"]] == LOANS_FIELDS
    fingerprint = json.loads(
        Path(client.download_artifacts(loans_run["run_id"], "data_fingerprint.json")).read_text()
    )
    assert fingerprint["rows"] == {"loans": 600}
    deciles = pd.read_csv(client.download_artifacts(loans_run["run_id"], "report/deciles.csv"))
    assert deciles["clients"].sum() == 120 and deciles["cumulative_approval"].iloc[-1] == 1
    artifacts = {a.path for a in client.list_artifacts(loans_run["run_id"])}
    assert {"approval_vs_bad_rate.png", "report"} <= artifacts


def candidate_runs(own: Pipeline) -> pd.DataFrame:
    mlflow.set_tracking_uri(own.env["MLFLOW_TRACKING_URI"])
    runs = mlflow.search_runs(experiment_names=["credit-scoring"])
    return runs[runs["tags.candidate"] == "true"].set_index("params.schema_name")


def test_a_dated_table_is_validated_out_of_time_and_its_date_is_no_input(own, models):
    validation = candidate_runs(own).loc["customers", "tags.validation"]
    assert validation.startswith("out-of-time on 'applied_on'"), validation
    held_from, _, _, trained_to = re.findall(r"\d{4}-\d{2}-\d{2}", validation)
    assert trained_to < held_from  # the hold-out is the latest period
    assert "applied_on" not in models["customers"][1].schema.names


def test_training_another_dataset_leaves_the_first_ones_champion(own):
    # customers was trained first, then loans: each has its registered model and champion.
    runs = candidate_runs(own)
    client = mlflow.MlflowClient()
    for dataset in ("customers", "loans"):
        champion = client.get_model_version_by_alias(f"credit-scoring.{dataset}", "champion")
        assert champion.run_id == runs.loc[dataset, "run_id"]
    experiment = client.get_experiment_by_name("credit-scoring")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def promote_elsewhere(own: Pipeline, folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`credit-scoring promote ARGS` from another folder, into a BentoML store of its own,
    finding the MLflow store from the project's settings (CREDIT_MLFLOW_DIR) only."""
    folder.mkdir(exist_ok=True)
    env = {k: v for k, v in own.env.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(
        [sys.executable, CLI, "promote", *args],
        env=env | {"BENTOML_HOME": str(folder / "bentoml")},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


def promoted_run(folder: Path) -> str:
    models = folder / "bentoml" / "models" / "credit_scoring"
    return Scorer.load(models / (models / "latest").read_text().strip()).metadata["mlflow_run_id"]


def test_promote_takes_a_dataset_or_a_run_id_of_the_project_store(own, tmp_path):
    runs = candidate_runs(own)
    result = promote_elsewhere(own, tmp_path, "--dataset", "customers")
    assert result.returncode == 0, result.stderr
    assert promoted_run(tmp_path) == runs.loc["customers", "run_id"]
    result = promote_elsewhere(own, tmp_path, "--run-id", runs.loc["loans", "run_id"])
    assert result.returncode == 0, result.stderr
    assert promoted_run(tmp_path) == runs.loc["loans", "run_id"]
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlflow").exists()


def test_promote_of_an_unknown_run_says_so_in_one_line(own, tmp_path):
    result = promote_elsewhere(own, tmp_path, "--run-id", "0123456789abcdef")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("error: no run 0123456789abcdef in sqlite:")
    assert "Traceback" not in result.stderr


def test_each_promoted_model_carries_its_own_schema_costs_and_reference(models):
    _, customers = models["customers"]
    assert "notes" not in customers.schema.names and customers.schema.id_column == "customer_id"
    assert customers.schema.field("debt").maximum == 1_000_000
    assert customers.reference["customer_id"].is_unique
    assert (customers.costs.fn_cost, customers.costs.fp_cost) == (10.0, 1.0)  # the defaults
    table = many_categoricals(800)  # missing values and categories scored in process
    proba = customers.predict_proba(
        table.drop(columns=["default", "notes"]).astype({"has_guarantor": str})
    )
    assert np.isfinite(proba).all() and 0 < proba.min() < proba.max() < 1
    # A logistic model (the only family this run let compete): exact contributions too.
    assert customers.model.family == "logistic"
    explanation = customers.explain(table.drop(columns=["default", "notes"]).head(20))
    np.testing.assert_allclose(
        explanation.contributions.sum(1) + explanation.base_value,
        customers.raw_score(table.drop(columns=["default", "notes"]).head(20)),
    )
    _, served = models["loans"]
    assert (served.costs.fn_cost, served.costs.fp_cost) == (4.0, 1.5)
    assert served.reference["loan_ref"].str.startswith("L-").all()


def test_the_api_follows_the_served_schema(url, models):
    spec = httpx.get(f"{url}/docs.json", timeout=10).json()
    application = spec["components"]["schemas"]["Application"]
    assert list(application["properties"]) == ["loan_ref", *LOANS_FIELDS]
    assert set(application["required"]) == set(LOANS_FIELDS)
    # The known categories first; any other text is scored as missing (with a warning).
    assert application["properties"]["purpose"]["anyOf"][0]["enum"] == ["car", "cash", "home"]
    schema = ServiceClient(url).input_schema()
    _, scorer = models["loans"]
    assert (schema.id_column, schema.id_integer) == ("loan_ref", False)
    # The same fields, attribute by attribute.
    assert same_fields(schema.fields) == same_fields(scorer.schema.fields)
    meta = post(url, "metadata", {}).json()
    assert (meta["id_column"], meta["dataset"], meta["input_fields"]) == (
        "loan_ref",
        "loans",
        LOANS_FIELDS,
    )
    assert meta["costs"] == {"fn_cost": 4.0, "fp_cost": 1.5}
    assert meta["points_scale"] == {"points": 600, "odds": 19, "pdo": 50}
    assert [b["band"] for b in meta["bands"]] == ["A", "B", "C", "D", "E"]
    assert meta["unseen"] == "missing"
    assert meta["family"] == "scorecard" == scorer.model.family
    assert set(meta["families"]["scorecard"]) >= {"cv_auc_mean", "cv_auc_std"}


def test_predict_and_explain_answer_with_the_foreign_id(url, models):
    _, scorer = models["loans"]
    rows = loans(5)
    predicted = post(url, "predict", {"applications": rows})
    assert predicted.status_code == 200, predicted.text
    expected = scorer.predict_proba(pd.DataFrame(rows))
    for row, answer, proba in zip(rows, predicted.json(), expected, strict=True):
        assert list(answer)[:2] == ["loan_ref", "probability"]
        assert answer["loan_ref"] == row["loan_ref"]
        assert answer["probability"] == pytest.approx(proba, abs=1e-9)
        assert answer["decision"] == ("refused" if proba >= scorer.threshold else "granted")
        assert {r["feature"] for r in answer["reasons"]} <= set(LOANS_FIELDS)
        points, bands = scorer.grade(np.array([proba]))
        assert (answer["points"], answer["band"]) == (pytest.approx(points[0]), bands[0])
        assert answer["warnings"] == []
    explained = post(url, "explain", {"applications": rows}).json()
    raw = scorer.raw_score(pd.DataFrame(rows))
    for answer, score in zip(explained, raw, strict=True):
        total = answer["base_value"] + sum(c["contribution"] for c in answer["contributions"])
        assert total == pytest.approx(score, abs=1e-6)
    client = post(url, "clients", {}).json()[0]
    by_id = post(url, "predict_client", {"client_ids": [client]})
    assert by_id.status_code == 200 and by_id.json()[0]["loan_ref"] == client


def test_refusals_of_a_users_table_carry_its_reasons_in_its_units(url, models):
    """The loans table (trained without an override file): each column its own reason under
    the readable default statement, at most four, towards refusal only, values as sent."""
    rows = loans(60, offset=200)
    predicted = post(url, "predict", {"applications": rows}).json()
    explained = post(url, "explain", {"applications": rows}).json()
    _, scorer = models["loans"]
    protected = protected_fields(scorer.schema.fields)
    refused = [(r, p, e) for r, p, e in zip(rows, predicted, explained, strict=True)
               if p["decision"] == "refused"]  # fmt: skip
    assert refused and all(p["reasons"] == [] for p in predicted if p["decision"] == "granted")
    for row, prediction, explanation in refused:
        reasons = prediction["reasons"]
        assert 1 <= len(reasons) <= 4
        pushes = {c["feature"]: c["contribution"] for c in explanation["contributions"]}
        for reason in reasons:
            (feature,) = reason["features"]  # one column, one statement
            assert pushes[feature] > 0 and feature not in protected
            assert reason["reason"] == feature.capitalize()  # "Income", "Age", "Purpose"
            sent = row[feature]  # the user's own units; a category's label as sent
            assert reason["value"] == (sent if isinstance(sent, str) else pytest.approx(sent))
            assert reason["reference"] is not None


def test_a_request_for_the_previous_model_names_every_mismatch(url):
    """A client still sending the previous model's fields after a model change gets 400 with
    each unknown field, and each field the new model requires, named."""
    old = many_categoricals(1).drop(columns=["default", "notes"]).iloc[0]
    response = post(url, "predict", {"applications": [json.loads(old.to_json())]})
    assert response.status_code == 400
    problems = {(d["type"], d["loc"][-1]) for d in response.json()["detail"]}
    assert {("extra_forbidden", "cat_0"), ("extra_forbidden", "utilisation")} <= problems
    assert {("missing", name) for name in LOANS_FIELDS} <= problems
    # A purpose training never saw: scored as missing, and the answer says so.
    unseen = post(url, "predict", {"applications": [{**loans(1)[0], "purpose": "boat"}]})
    assert unseen.status_code == 200, unseen.text
    assert unseen.json()[0]["warnings"] == [
        "purpose: category 'boat' was not seen in training; scored as missing"
    ]


def test_drift_compares_only_the_requests_of_the_model_it_judges(own, url, models, tmp_path):
    """The log holds requests of two models with different schemas: each report takes the
    rows its own model scored, and says so when there are none."""
    from credit_scoring.monitoring import drift

    assert post(url, "predict", {"applications": loans(150, offset=100)}).status_code == 200
    log_path = Path(own.env["CREDIT_REQUEST_LOG"])
    customers_tag, customers = models["customers"]
    old = customers.reference.drop(columns=["default", "applied_on"]).head(120)
    RequestLog(log_path).append(
        LoggedDecision(
            None,
            "predict",
            customers_tag,
            "0" * 64,
            0.5,
            int(r.customer_id),
            r._asdict(),
            {"probability": 0.3, "decision": "granted"},
        )
        for r in old.astype(object).where(old.notna(), None).itertuples(index=False)
    )
    loans_tag, loans_scorer = models["loans"]
    summary = drift.run(log_path, loans_scorer, loans_tag, tmp_path / "loans", top_fields=0)
    assert summary.current_rows >= 150 and set(summary.tested_fields) <= {
        *LOANS_FIELDS,
        "probability",
    }
    summary = drift.run(log_path, customers, customers_tag, tmp_path / "old")  # top 20 fields
    assert summary.current_rows == 120 and "cat_0" in summary.tested_fields
    with pytest.raises(Exception, match="no logged request to predict, explain scored by"):
        drift.run(log_path, loans_scorer, "credit_scoring:unknown", tmp_path / "none")


def test_the_officer_page_follows_the_served_schema(url, models, monkeypatch):
    from tests.integration.test_ui import errors, page

    app = page(monkeypatch, url)
    assert app.selectbox(key="client_id").label == "Client id (loan_ref)"
    app.sidebar.radio(key="mode").set_value("New application").run()
    assert [n.label for n in app.number_input] == ["income", "age"]
    app.number_input(key="field:income").set_value(1800.0)
    app.number_input(key="field:age").set_value(23)
    app.selectbox(key="field:purpose").set_value("cash")
    app.button(key="score_application").click().run()
    assert not app.exception and "rejected" not in errors(app)
    _, scorer = models["loans"]
    expected = scorer.predict_proba(
        pd.DataFrame([{"income": 1800.0, "age": 23, "purpose": "cash"}])
    )
    assert app.metric[0].value == f"{expected[0]:.1%}"
    points, bands = scorer.grade(expected)
    assert app.metric[1].value == f"{points[0]:.0f} ({bands[0]})"
    # A required field left empty: the page shows the service's 400, naming the field.
    app.selectbox(key="field:purpose").set_value("(unknown)")
    app.button(key="score_application").click().run()
    assert "**purpose**: Field required" in errors(app)
