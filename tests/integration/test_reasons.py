"""Adverse-action reasons and overrides through the real served process (the session's
`bentoml serve`): refused applicants get at most four reasons, each pushing towards refusal,
none protected, in readable units; an officer's override is stored beside the request log and
leaves the model's logged answer as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from credit_scoring.core.overrides import latest_answers, override_rates, read_overrides
from credit_scoring.core.reasons import protected_fields
from credit_scoring.core.request_log import read_log
from credit_scoring.core.scorer import Scorer
from credit_scoring.profiles.home_credit.reasons import NEVER_CITED
from tests.integration.conftest import CLI
from tests.integration.test_pipeline import applicants, post

pytestmark = pytest.mark.integration
CLIENTS = 300
READABLE_UNITS = {"", "currency", "count", "%", "score", "ratio", "days", "years ago", "years",
                  "months ago"}  # fmt: skip


@pytest.fixture(scope="module")
def scorer(pipeline) -> Scorer:
    return Scorer.load(pipeline.model_dir())


@pytest.fixture(scope="module")
def answers(service_url, scorer) -> tuple[list[dict], list[dict]]:
    """Predictions and explanations of reference clients, scored by id."""
    ids = post(service_url, "clients", {}).json()[:CLIENTS]
    predicted = post(service_url, "predict_client", {"client_ids": ids})
    explained = post(service_url, "explain_client", {"client_ids": ids})
    assert predicted.status_code == explained.status_code == 200, predicted.text
    return predicted.json(), explained.json()


def test_refusals_carry_at_most_four_reasons_towards_refusal(answers, scorer):
    predicted, explained = answers
    refused = [
        (p, e) for p, e in zip(predicted, explained, strict=True) if p["decision"] == "refused"
    ]
    assert len(refused) >= 10, "the sample should hold refused applicants"
    protected = protected_fields(scorer.schema.fields, NEVER_CITED) | {"EMPLOYED_BIRTH_RATIO"}
    for prediction, explanation in refused:
        reasons = prediction["reasons"]
        assert 1 <= len(reasons) <= 4, prediction
        assert len({r["reason"] for r in reasons}) == len(reasons)  # grouped: one per statement
        sizes = [r["contribution"] for r in reasons]
        assert sizes == sorted(sizes, reverse=True)
        pushes = {c["feature"]: c for c in explanation["contributions"]}
        for reason in reasons:
            assert reason["contribution"] > 0
            # Every feature cited pushed towards refusal, had a value, is not protected.
            for feature in reason["features"]:
                assert pushes[feature]["contribution"] > 0, (feature, reason)
                assert pushes[feature]["value"] is not None, (feature, reason)
                assert feature not in protected, feature
            assert reason["feature"] == reason["features"][0]
            assert reason["value"] is not None and reason["unit"] in READABLE_UNITS


def test_reason_values_are_in_readable_units(answers):
    predicted, _ = answers
    reasons = [r for p in predicted for r in p["reasons"]]
    for reason in reasons:
        if "DAYS_" in reason["feature"] and reason["unit"] != "days":
            # Day offsets before the application read as years, as on the form.
            assert reason["unit"] in ("years ago", "years") and abs(reason["value"]) < 100
        if reason["unit"] == "%":
            # Percent, not a share of one; ratios (credit to goods price) pass 100%.
            assert 0 <= reason["value"] <= 1000 and 0 <= reason["reference"] <= 1000
    ext = [r for r in reasons if r["reason"] == "Low external credit scores"]
    assert ext and all(0 <= r["value"] < r["reference"] <= 1 for r in ext)
    assert all(isinstance(r["value"], str) for r in reasons if r["unit"] == "" and
               r["feature"].startswith(("NAME_", "OCCUPATION", "ORGANIZATION")))  # fmt: skip


def test_granted_applicants_carry_no_adverse_reasons(pipeline, service_url):
    answered = post(service_url, "predict", {"applications": applicants(pipeline, 40)}).json()
    granted = [a for a in answered if a["decision"] == "granted"]
    assert granted and all(a["reasons"] == [] for a in granted)


def test_an_override_is_stored_beside_the_log_and_counted(pipeline, service_url, answers):
    predicted, _ = answers
    refused = next(p for p in predicted if p["decision"] == "refused")
    client_id = refused["SK_ID_CURR"]
    body = {"applicant_id": client_id, "decision": "granted", "reason": "Payslips checked",
            "officer": "A. Officer"}  # fmt: skip
    response = post(service_url, "override", body)
    assert response.status_code == 200, response.text
    record = response.json()
    assert (record["SK_ID_CURR"], record["model_decision"], record["decision"]) == (
        client_id,
        "refused",
        "granted",
    )
    # Overriding with the model's own decision (409), or an applicant never scored (404).
    same = post(service_url, "override", {**body, "decision": "refused"})
    assert same.status_code == 409 and "already 'refused'" in same.text
    unknown = post(service_url, "override", {**body, "applicant_id": 987_654_321})
    assert unknown.status_code == 404 and "no logged model answer" in unknown.text
    blank = post(service_url, "override", {**body, "reason": "  ", "officer": ""})
    assert blank.status_code == 400
    assert {d["loc"][-1] for d in blank.json()["detail"]} == {"reason", "officer"}

    log = read_log(Path(pipeline.env["CREDIT_REQUEST_LOG"]))
    assert set(log.loc[log["client_id"] == client_id, "decision"]) == {"refused"}  # unchanged
    overrides = read_overrides(Path(pipeline.env["CREDIT_OVERRIDE_LOG"]))
    rates = override_rates(latest_answers(Path(pipeline.env["CREDIT_REQUEST_LOG"])), overrides)
    refused_rate = rates.set_index("model_decision").loc["refused"]
    assert refused_rate["overridden"] >= 1 and 0 < refused_rate["override_rate"] <= 1
    report = pipeline.run(CLI, "overrides", "--output", str(pipeline.home / "overrides.csv"))
    assert "override_rate" in report.stdout and (pipeline.home / "overrides.csv").is_file()
