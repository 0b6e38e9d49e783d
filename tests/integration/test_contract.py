"""The API contract at its edges: every class of bad input gets a 4xx with the exact status
and a message naming the field, and the service keeps answering."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.conftest import serve
from tests.integration.test_pipeline import applicants, post

pytestmark = pytest.mark.integration
ENDPOINTS = ["score", "predict", "explain"]


def only_error(response: httpx.Response) -> dict:
    body = response.json()
    assert len(body["detail"]) == 1, body
    return body["detail"][0]


CASES = {
    "unknown field": (
        {"applications": [{"NOT_A_FIELD": 1}]},
        ["applications", 0, "NOT_A_FIELD"],
        "extra_forbidden",
        "Extra inputs are not permitted",
    ),
    "wrong type": (
        {"applications": [{"AMT_CREDIT": "lots"}]},
        ["applications", 0, "AMT_CREDIT"],
        "float_type",
        "Input should be a valid number",
    ),
    "boolean for a number": (
        {"applications": [{"FLAG_EMAIL": True}]},
        ["applications", 0, "FLAG_EMAIL"],
        "int_type",
        "Input should be a valid integer",
    ),
    "float for an integer": (
        {"applications": [{"CNT_CHILDREN": 1.5}]},
        ["applications", 0, "CNT_CHILDREN"],
        "int_type",
        "Input should be a valid integer",
    ),
    "number for a category": (
        {"applications": [{"CODE_GENDER": 1}]},
        ["applications", 0, "CODE_GENDER"],
        "string_type",
        "Input should be a valid string",
    ),
    "above range": (
        {"applications": [{"EXT_SOURCE_2": 3.0}]},
        ["applications", 0, "EXT_SOURCE_2"],
        "less_than_equal",
        "Input should be less than or equal to 1",
    ),
    "below range": (
        {"applications": [{"AMT_CREDIT": -1}]},
        ["applications", 0, "AMT_CREDIT"],
        "greater_than_equal",
        "Input should be greater than or equal to 0",
    ),
    "NaN": (
        '{"applications": [{"AMT_INCOME_TOTAL": NaN}]}',
        ["applications", 0, "AMT_INCOME_TOTAL"],
        "finite_number",
        "Input should be a finite number",
    ),
    "infinity": (
        '{"applications": [{"AMT_INCOME_TOTAL": -Infinity}]}',
        ["applications", 0, "AMT_INCOME_TOTAL"],
        "finite_number",
        "Input should be a finite number",
    ),
    "empty body": ("", ["applications"], "missing", "Field required"),
    "empty object": ({}, ["applications"], "missing", "Field required"),
    "not a list": (
        {"applications": 5},
        ["applications"],
        "list_type",
        "Input should be a valid array",
    ),
    "row not an object": (
        {"applications": [5]},
        ["applications", 0],
        "model_type",
        "Input should be an object",
    ),
    "oversize batch": (
        {"applications": [{}] * 1001},
        ["applications"],
        "too_long",
        "List should have at most 1000 items after validation, not 1001",
    ),
    "malformed JSON": (
        '{"applications": [{',
        [],
        "json_invalid",
        "Invalid JSON: EOF while parsing an object at line 1 column 19",
    ),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_400_naming_the_field(service_url, endpoint, case):
    body, loc, kind, message = CASES[case]
    response = post(service_url, endpoint, body)
    assert response.status_code == 400, response.text
    error = only_error(response)
    assert (error["loc"], error["type"], error["msg"]) == (loc, kind, message)


@pytest.mark.parametrize("chunked", [False, True])
def test_huge_body_is_413_before_parsing(service_url, chunked):
    body = json.dumps({"applications": [{"NAME_CONTRACT_TYPE": "x" * 5000}] * 1000}).encode()
    content = iter([body[i : i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    response = httpx.post(
        f"{service_url}/predict",
        content=content,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json() == {"error": "request body larger than 4194304 bytes"}


@pytest.fixture(scope="module")
def strict_url(pipeline):
    """The same model served in strict mode: an unseen category is refused."""
    with serve(pipeline, CREDIT_UNSEEN="reject") as url:
        yield url


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_unseen_category_is_scored_as_missing_with_a_warning_or_refused_when_strict(
    service_url, strict_url, endpoint
):
    unseen = {"SK_ID_CURR": 1, "CODE_GENDER": "Q", "NAME_EDUCATION_TYPE": "Higher education"}
    answer = post(service_url, endpoint, {"applications": [unseen]})
    assert answer.status_code == 200, answer.text
    as_missing = post(service_url, endpoint, {"applications": [unseen | {"CODE_GENDER": None}]})
    assert answer.json()[0]["probability"] == as_missing.json()[0]["probability"]
    if endpoint != "explain":
        assert answer.json()[0]["warnings"] == [
            "CODE_GENDER: category 'Q' was not seen in training; scored as missing"
        ]
        assert as_missing.json()[0]["warnings"] == []
    refused = post(strict_url, endpoint, {"applications": [unseen]})
    assert refused.status_code == 400
    error = only_error(refused)
    assert (error["loc"], error["type"], error["msg"]) == (
        ["applications", 0, "CODE_GENDER"],
        "literal_error",
        "Input should be 'F', 'M' or 'XNA'",
    )
    assert post(strict_url, "metadata", {}).json()["unseen"] == "reject"


def test_several_bad_rows_are_all_reported(service_url):
    body = {"applications": [{"AMT_CREDIT": -1}, {}, {"CODE_GENDER": 2, "FOO": 2}]}
    detail = post(service_url, "predict", body).json()["detail"]
    assert sorted(tuple(d["loc"]) for d in detail) == [
        ("applications", 0, "AMT_CREDIT"),
        ("applications", 2, "CODE_GENDER"),
        ("applications", 2, "FOO"),
    ]


def test_service_still_answers_after_bad_input(pipeline, service_url):
    for body, *_ in CASES.values():
        post(service_url, "predict", body)
    assert httpx.get(f"{service_url}/readyz", timeout=5).status_code == 200
    assert (
        post(service_url, "predict", {"applications": applicants(pipeline, 2)}).status_code == 200
    )


def test_score_is_predict_without_reason_codes(pipeline, service_url):
    rows = applicants(pipeline, 4, offset=300)
    scored = post(service_url, "score", {"applications": rows}).json()
    predicted = post(service_url, "predict", {"applications": rows}).json()
    fields = {"SK_ID_CURR", "probability", "decision", "threshold", "points", "band", "warnings"}
    for s, p in zip(scored, predicted, strict=True):
        assert set(s) == fields
        assert s["probability"] == pytest.approx(p["probability"], abs=1e-12)
        assert (s["decision"], s["points"], s["band"]) == (p["decision"], p["points"], p["band"])


def test_openapi_page_documents_fields_and_an_example(service_url):
    spec = httpx.get(f"{service_url}/docs.json", timeout=10).json()
    assert {"/predict", "/score", "/explain", "/predict_client", "/metadata"} <= set(spec["paths"])
    text = json.dumps(spec)
    assert "EXT_SOURCE_2" in text and "Normalized score from external data source" in text
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert "example" in json.dumps(body)


def test_rows_with_and_without_ids_in_one_batch(service_url):
    body = {"applications": [{"SK_ID_CURR": 2**53 - 1}, {}, {"SK_ID_CURR": 7}]}
    for endpoint in ENDPOINTS:
        response = post(service_url, endpoint, body)
        assert response.status_code == 200, response.text
        assert [a["SK_ID_CURR"] for a in response.json()] == [2**53 - 1, None, 7]
