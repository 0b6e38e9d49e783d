"""Applicants sent with their credit history are scored on the same multi-table features as
in training: the typed request path gives the answer of the by-id path, rows never leak
between applicants of one batch, and bad history rows get a 400 naming the row and field."""

from __future__ import annotations

import httpx
import pytest

from credit_scoring.core.scorer import Scorer
from credit_scoring.profiles.home_credit.tables import BUREAU, BUREAU_BALANCE, BUREAU_ID, ID_COLUMN
from tests.integration.test_contract import only_error
from tests.integration.test_pipeline import post

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scorer(pipeline) -> Scorer:
    return Scorer.load(pipeline.model_dir())


def records(frame) -> list[dict]:
    """Rows as JSON objects, missing values left out, floats exact (pandas' to_json rounds)."""
    rows = frame.astype(object).to_dict(orient="records")
    return [
        {k: v.item() if hasattr(v, "item") else v for k, v in row.items() if v == v} for row in rows
    ]


def as_request(scorer: Scorer, client: int) -> dict:
    """A reference client as a client application would send it: fields and history rows."""
    applications, histories = scorer.reference_rows([client])
    target = scorer.schema.target_column
    (application,) = records(applications.drop(columns=[target], errors="ignore"))
    for table, rows in histories.items():
        if len(rows):
            application[table] = records(rows.drop(columns=[ID_COLUMN], errors="ignore"))
    return application


def with_history(scorer: Scorer, count: int) -> list[int]:
    """Reference clients with rows in every history table (so each block is exercised)."""
    ids = scorer.reference[scorer.schema.id_column].astype(int).tolist()
    chosen = []
    for client in ids:
        _, histories = scorer.reference_rows([client])
        if all(len(t) for t in histories.values()):
            chosen.append(client)
        if len(chosen) == count:
            return chosen
    raise AssertionError("no reference client has rows in every table")


@pytest.mark.parametrize("endpoint", ["predict", "explain"])
def test_histories_sent_give_the_answer_of_scoring_by_id(service_url, scorer, endpoint):
    clients = with_history(scorer, 3)
    sent = post(service_url, endpoint, {"applications": [as_request(scorer, c) for c in clients]})
    by_id = post(service_url, f"{endpoint}_client", {"client_ids": clients})
    assert sent.status_code == by_id.status_code == 200, sent.text
    assert sent.json() == by_id.json()
    # and the history did count: the same applicants without it score differently
    bare = [{k: v for k, v in as_request(scorer, c).items() if k.upper() == k} for c in clients]
    without = post(service_url, endpoint, {"applications": bare}).json()
    assert [a["probability"] for a in without] != [a["probability"] for a in sent.json()]


def test_history_rows_stay_with_their_applicant(service_url, scorer):
    """Two applicants calling their credits by the same SK_ID_BUREAU, in one batch."""
    first, second = (as_request(scorer, c) for c in with_history(scorer, 2))
    for application in (first, second):
        renumber = {c[BUREAU_ID]: i for i, c in enumerate(application[BUREAU])}
        for row in application[BUREAU] + application[BUREAU_BALANCE]:
            row[BUREAU_ID] = renumber[row[BUREAU_ID]]
    together = post(service_url, "predict", {"applications": [first, second]}).json()
    alone = [post(service_url, "predict", {"applications": [a]}).json()[0] for a in (first, second)]
    assert together == alone


CASES = {
    "applicant id in a history row": (
        {BUREAU: [{ID_COLUMN: 1, "CREDIT_ACTIVE": "Active"}]},
        ["applications", 0, BUREAU, 0, ID_COLUMN],
        "extra_forbidden",
        "Extra inputs are not permitted",
    ),
    "unknown category in a history row": (
        {BUREAU: [{"CREDIT_ACTIVE": "Maybe"}]},
        ["applications", 0, BUREAU, 0, "CREDIT_ACTIVE"],
        "literal_error",
        "Input should be 'Active', 'Bad debt', 'Closed' or 'Sold'",
    ),
    "text for a number in a history row": (
        {"installments_payments": [{}, {"AMT_PAYMENT": "12"}]},
        ["applications", 0, "installments_payments", 1, "AMT_PAYMENT"],
        "float_type",
        "Input should be a valid number",
    ),
    "month without its credit's id": (
        {BUREAU_BALANCE: [{"MONTHS_BALANCE": -1, "STATUS": "0"}]},
        ["applications", 0, BUREAU_BALANCE, 0, BUREAU_ID],
        "missing",
        "Field required",
    ),
    "month of an unknown credit": (
        {BUREAU: [{BUREAU_ID: 1}], BUREAU_BALANCE: [{BUREAU_ID: 2, "MONTHS_BALANCE": -1}]},
        ["applications", 0],
        "value_error",
        "Value error, bureau_balance rows refer to SK_ID_BUREAU [2], which no bureau row of"
        " this application has",
    ),
    "two credits with one id": (
        {BUREAU: [{BUREAU_ID: 1}, {BUREAU_ID: 1}]},
        ["applications", 0],
        "value_error",
        "Value error, bureau rows share an SK_ID_BUREAU: each row needs its own",
    ),
    "too many rows": (
        {"POS_CASH_balance": [{}] * 1001},
        ["applications", 0, "POS_CASH_balance"],
        "too_long",
        "List should have at most 1000 items after validation, not 1001",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_history_is_a_400_naming_the_row(service_url, case):
    history, loc, kind, message = CASES[case]
    response = post(service_url, "predict", {"applications": [{"AMT_CREDIT": 1e5, **history}]})
    assert response.status_code == 400, response.text
    error = only_error(response)
    assert (error["loc"], error["type"], error["msg"]) == (loc, kind, message)


def test_openapi_example_carries_history_rows_and_is_valid(service_url):
    spec = httpx.get(f"{service_url}/docs.json", timeout=30).json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    example = body["schema"]["properties"]["applications"]["examples"][0]
    assert any(table in example[0] for table in (BUREAU, "previous_application"))
    assert post(service_url, "predict", {"applications": example}).status_code == 200
