"""The API's documents in process: the OpenAPI example is a valid typical applicant and no
client's record; the amended spec describes the bodies BentoML really answers; bearer tokens
whatever the scheme's case."""

from __future__ import annotations

import json
from typing import Any

import bentoml
import jsonschema
import pandas as pd
import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from credit_scoring.core.profile import get_profile
from credit_scoring.core.schema import InputSchema
from credit_scoring.profiles.home_credit.synthetic import SyntheticData
from credit_scoring.serving import bentoml_fixes
from credit_scoring.serving.auth import bearer_token
from credit_scoring.serving.docs import amend_spec, typical_application

REFERENCE_ROWS = 2000  # as many clients as a model ships as its reference sample
ANONYMITY = 5  # a row as common as this many clients' rows identifies none of them


@pytest.fixture(scope="module")
def reference(synthetic: SyntheticData) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    clients = synthetic.applications.head(REFERENCE_ROWS)
    ids = set(clients["SK_ID_CURR"])
    histories = {
        name: table[table["SK_ID_CURR"].isin(ids)] if "SK_ID_CURR" in table else table
        for name, table in synthetic.histories.items()
    }
    return clients, histories


@pytest.fixture(scope="module")
def example(schema: InputSchema, reference) -> dict[str, Any]:
    clients, histories = reference
    tables = get_profile(schema.profile).history_tables(schema.tables)
    return typical_application(schema, clients, histories, tables)


def test_the_example_is_a_valid_application_with_history_rows(schema, example):
    schema.request_model().model_validate(example)  # raises on any invalid value or link
    assert len(example["bureau"]) == 2 and {"bureau_balance", "installments_payments"} <= set(
        example
    )
    assert {row["SK_ID_BUREAU"] for row in example["bureau_balance"]} <= {1, 2}
    assert sum(f.name in example for f in schema.fields) > 50  # typical, not an empty form


def test_no_example_is_a_real_clients_record(schema, reference, example):
    clients, histories = reference
    assert example["SK_ID_CURR"] not in set(clients["SK_ID_CURR"])
    fields = [f.name for f in schema.fields if f.name in example]
    same = (clients[fields] == pd.Series({f: example[f] for f in fields})).all(axis=1)
    assert not same.any(), "the example is a record of the reference sample"
    for name, rows in (v for v in example.items() if isinstance(v[1], list)):
        table = histories[name]
        owner = "SK_ID_CURR" if "SK_ID_CURR" in table else "SK_ID_BUREAU"
        for row in rows:
            values = {c: v for c, v in row.items() if c not in ("SK_ID_BUREAU", "SK_ID_PREV")}
            same = (table[list(values)] == pd.Series(values)).all(axis=1)
            # A short row (a month's status) may be common: then it singles out no one.
            owners = table.loc[same, owner].nunique()
            assert owners == 0 or owners >= ANONYMITY, f"an example {name} row is {owners} real"


def test_the_example_keeps_a_sentinel_exact(schema, reference):
    clients, _ = reference
    pensioners = clients.assign(DAYS_EMPLOYED=365243)
    example = typical_application(schema, pensioners, {}, {})
    assert example["DAYS_EMPLOYED"] == 365243


@bentoml.service(metrics={"enabled": False})  # its metrics would clash with another app's
class Lookup:
    @bentoml.api
    def find(self, ids: list[int]) -> list[int]:
        if 0 in ids:
            raise bentoml.exceptions.NotFound("no id 0")
        return ids


@pytest.fixture(scope="module")
def answers() -> dict[int, Any]:
    """A real BentoML app's 400 and 404 bodies (the 404 with its fix applied)."""
    bentoml_fixes.apply()
    with TestClient(Lookup.to_asgi()) as client:
        return {
            400: client.post("/find", json={"ids": ["x"]}).json(),
            404: client.post("/find", json={"ids": [0]}).json(),
        }


def test_a_404_is_the_object_the_spec_promises(answers):
    assert answers[404] == {"error": "no id 0"}  # BentoML 1.4.40 alone: [{"error": ...}]


@pytest.mark.parametrize("status", [400, 404])
def test_the_amended_spec_describes_the_bodies_bentoml_answers(answers, status):
    stock = json.loads(json.dumps(Lookup.openapi_spec.asdict()))  # as /docs.json serves it
    spec = amend_spec(stock, api_key=False, metrics_token=False)
    jsonschema.validate(answers[status], _response_schema(spec, status))
    if status == 400:  # BentoML's own spec declares detail a string
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(answers[status], _response_schema(stock, status))


def _response_schema(spec: dict[str, Any], status: int) -> dict[str, Any]:
    declared = spec["paths"]["/find"]["post"]["responses"][str(status)]
    return declared["content"]["application/json"]["schema"] | {"components": spec["components"]}


def test_the_amended_spec_requires_bodies_and_documents_every_refusal():
    spec = amend_spec(Lookup.openapi_spec.asdict(), api_key=True, metrics_token=True)
    post = spec["paths"]["/find"]["post"]
    assert post["requestBody"]["required"] is True
    assert {"400", "401", "404", "413", "415"} <= set(post["responses"])
    assert "401" in spec["paths"]["/metrics"]["get"]["responses"]
    open_spec = amend_spec(Lookup.openapi_spec.asdict(), api_key=False, metrics_token=False)
    assert "401" not in open_spec["paths"]["/find"]["post"]["responses"]
    assert "401" not in open_spec["paths"]["/metrics"]["get"]["responses"]


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (b"Bearer s3cret", b"s3cret"),
        (b"bearer s3cret", b"s3cret"),
        (b"BEARER   s3cret ", b"s3cret"),
        (b"Basic s3cret", None),
        (b"Bearer", None),
        (b"", None),
    ],
)
def test_the_bearer_scheme_is_case_insensitive(header, token):
    assert bearer_token(header) == token


class _Shadow(BaseModel):
    model_tag: str


class _Info(BaseModel):
    challenger: _Shadow | None = None
    rows: int | None = None


@bentoml.service
class _Metadata:
    @bentoml.api
    def metadata(self) -> _Info:
        return _Info()


def test_an_answers_null_is_allowed_by_the_spec():
    """BentoML drops ``| None``; /metadata answers ``"challenger": null`` without one."""
    spec = amend_spec(_Metadata.openapi_spec.asdict(), api_key=False, metrics_token=False)
    answer = spec["paths"]["/metadata"]["post"]["responses"]["200"]["content"]
    properties = answer["application/json"]["schema"]["properties"]
    assert properties["challenger"]["nullable"] and properties["rows"]["nullable"]
    assert properties["challenger"]["allOf"] == [{"$ref": "#/components/schemas/_Shadow"}]
    assert "$ref" not in properties["challenger"]  # its siblings would be ignored
