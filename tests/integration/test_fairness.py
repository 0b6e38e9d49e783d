"""Accountable decisions on real data (Boston HMDA mortgages, race and marital status
protected), through the real CLIs, MLflow store and `bentoml serve`: the protected attributes
are not model inputs, the audit reaches the training output, MLflow, /metadata and the model
card, and promotion is refused at the default bound until a reviewer justifies it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pytest

from credit_scoring.core.scorer import Scorer
from tests.integration.conftest import CLI, Pipeline, isolated_env, serve

EXAMPLES = Path(__file__).parents[2] / "examples"
JUSTIFICATION = "Denial gap traced to loan-to-value policy; reviewed with compliance"
REVIEWER = "A. Reviewer"


@pytest.fixture(scope="module")
def hmda(tmp_path_factory) -> tuple[Pipeline, str]:
    root = tmp_path_factory.mktemp("hmda")
    p = Pipeline(isolated_env(root), root)
    trained = p.run(
        CLI, "train", "--data", str(EXAMPLES / "hmda_boston.csv"), "--target", "deny",
        "--id", "application_id", "--positive-label", "yes",
        "--schema-override", str(EXAMPLES / "hmda_boston.protected.yaml"),
        "--trials", "1", "--max-trees", "80",
    )  # fmt: skip
    return p, trained.stderr + trained.stdout


@pytest.fixture(scope="module")
def refused(hmda) -> str:
    pipeline, _ = hmda
    result = pipeline.run(CLI, "promote", check=False)
    assert result.returncode == 1
    return result.stderr.splitlines()[-1]  # the one error line, after the progress lines


@pytest.fixture(scope="module")
def promoted(hmda, refused) -> Path:
    pipeline, _ = hmda
    pipeline.run(CLI, "promote", "--justification", JUSTIFICATION, "--reviewer", REVIEWER)
    return pipeline.model_dir()


@pytest.fixture(scope="module")
def url(hmda, promoted) -> Iterator[str]:
    with serve(hmda[0]) as served:
        yield served


def test_protected_attributes_are_kept_for_the_audit_not_as_inputs(hmda, promoted):
    scorer = Scorer.load(promoted)
    assert scorer.schema.protected == ["afam", "single"]
    assert not {"afam", "single"} & set(scorer.feature_names)
    assert {"afam", "single"} <= set(scorer.reference.columns)  # the audit's reference
    assert "protected, not inputs: ['afam', 'single']" in hmda[1]


def test_training_output_and_mlflow_hold_the_audit_the_proxy_check_and_the_verdict(hmda):
    pipeline, output = hmda
    assert "fairness afam: min adverse impact ratio" in output
    assert "proxy check afam: CV AUC" in output
    assert "fairness gate: WOULD REFUSE promotion: afam = yes: adverse impact ratio" in output
    mlflow.set_tracking_uri(pipeline.env["MLFLOW_TRACKING_URI"])
    run = mlflow.search_runs(
        experiment_names=["credit-scoring"],
        filter_string=("tags.role = 'search'"),
        output_format="list",
    )[0]
    assert run.data.metrics["fairness_min_air_afam"] < 0.8
    assert 0.5 < run.data.metrics["proxy_cv_auc_afam"] <= 1
    assert run.data.tags["fairness_gate"] == "refused"
    audit = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/fairness/fairness.json")
    yes = next(g for g in audit["attributes"]["afam"]["groups"] if g["group"] == "yes")
    low, high = yes["approval_rate_ci"]
    assert low < yes["approval_rate"] < high
    card = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/promotion/model_card.md")
    assert JUSTIFICATION in card


def test_promote_refuses_at_the_default_bound_naming_the_group(refused):
    assert refused.startswith("error: fairness gate refuses run ")
    assert "afam = yes: adverse impact ratio 0." in refused
    assert "--justification TEXT --reviewer NAME" in refused


def test_a_justified_override_promotes_and_the_card_records_it(promoted):
    scorer = Scorer.load(promoted)
    promotion = scorer.metadata["promotion"]
    assert promotion["decision"] == "overridden"
    assert (promotion["justification"], promotion["reviewer"]) == (JUSTIFICATION, REVIEWER)
    card = (promoted / "model_card.md").read_text()
    for expected in (JUSTIFICATION, REVIEWER, "despite the fairness gate", "### afam",
                     "no reject inference is made", "Proxy check"):  # fmt: skip
        assert expected in card


def test_the_service_serves_the_audit_and_the_card(url):
    metadata = httpx.post(f"{url}/metadata", json={}).json()
    fairness = metadata["fairness"]
    assert fairness["protected"] == ["afam", "single"]
    assert fairness["promotion"]["reviewer"] == REVIEWER
    assert fairness["attributes"]["afam"]["min_air_group"] == "yes"
    page = httpx.get(f"{url}/model_card")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<h2>Fairness audit" in page.text and REVIEWER in page.text
    markdown = httpx.get(f"{url}/model_card", params={"format": "markdown"})
    assert markdown.text.startswith("# Model card: hmda")


def test_requests_may_carry_protected_attributes_without_them_reaching_the_model(url):
    applicant = {
        "application_id": 1, "pirat": 0.3, "hirat": 0.25, "lvrat": 0.85, "chist": 2,
        "mhist": 2, "phist": "no", "unemp": 3.2, "selfemp": "no", "insurance": "no",
        "condomin": "no", "hschool": "yes",
    }  # fmt: skip
    answers = [
        httpx.post(
            f"{url}/score", json={"applications": [applicant | {"afam": race, "single": single}]}
        ).json()[0]["probability"]
        for race, single in (("yes", "yes"), ("no", "no"))
    ]
    assert answers[0] == answers[1]
