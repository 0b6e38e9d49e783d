"""The input schema: complete, serialisable, and strict where a request can go wrong."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError

from credit_scoring.core.schema import InputSchema


def test_schema_has_every_raw_field_but_id_and_target(schema):
    assert len(schema.fields) == 120
    assert "SK_ID_CURR" not in schema.names and "TARGET" not in schema.names
    assert schema.field("CODE_GENDER").categories == ("F", "M", "XNA")
    assert schema.field("EXT_SOURCE_2").maximum == 1.0
    assert schema.field("DAYS_BIRTH").maximum == 0


def test_json_round_trip(schema):
    assert InputSchema.from_json(schema.to_json()) == schema


def test_request_model_accepts_a_partial_applicant(schema):
    Application = schema.request_model()
    row = Application(SK_ID_CURR=1, AMT_CREDIT=1e5, CODE_GENDER="F", DAYS_EMPLOYED=365243)
    assert row.AMT_INCOME_TOTAL is None


@pytest.mark.parametrize(
    ("payload", "field", "error"),
    [
        ({"FOO": 1}, "FOO", "extra_forbidden"),
        ({"AMT_CREDIT": math.nan}, "AMT_CREDIT", "finite_number"),
        ({"AMT_CREDIT": math.inf}, "AMT_CREDIT", "finite_number"),
        ({"AMT_CREDIT": -1}, "AMT_CREDIT", "greater_than_equal"),
        ({"AMT_CREDIT": "a lot"}, "AMT_CREDIT", "value_error"),
        ({"AMT_CREDIT": "12"}, "AMT_CREDIT", "value_error"),
        ({"FLAG_EMAIL": True}, "FLAG_EMAIL", "value_error"),
        ({"EXT_SOURCE_1": 1.5}, "EXT_SOURCE_1", "less_than_equal"),
        ({"DAYS_BIRTH": 10}, "DAYS_BIRTH", "less_than_equal"),
        ({"CODE_GENDER": "Q"}, "CODE_GENDER", "literal_error"),
        ({"CNT_CHILDREN": 1.5}, "CNT_CHILDREN", "int_from_float"),
    ],
)
def test_request_model_names_the_bad_field(schema, payload, field, error):
    with pytest.raises(ValidationError) as caught:
        schema.request_model()(**payload)
    (problem,) = caught.value.errors()
    assert problem["loc"] == (field,)
    assert problem["type"] == error


def test_a_schema_stored_before_monotone_existed_reads_back(schema):
    raw = json.loads(schema.to_json())
    for spec in raw["fields"]:
        del spec["monotone"]
    assert InputSchema.from_json(json.dumps(raw)) == schema
