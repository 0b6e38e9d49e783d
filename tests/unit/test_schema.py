"""The input schema: complete, serialisable, and strict where a request can go wrong."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from pydantic import ValidationError

from credit_scoring.core.schema import FieldSpec, InputSchema


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
        ({"AMT_CREDIT": "a lot"}, "AMT_CREDIT", "float_type"),
        ({"AMT_CREDIT": "12"}, "AMT_CREDIT", "float_type"),
        ({"AMT_CREDIT": True}, "AMT_CREDIT", "float_type"),
        ({"FLAG_EMAIL": True}, "FLAG_EMAIL", "int_type"),
        ({"FLAG_EMAIL": "1"}, "FLAG_EMAIL", "int_type"),
        ({"EXT_SOURCE_1": 1.5}, "EXT_SOURCE_1", "less_than_equal"),
        ({"DAYS_BIRTH": 10}, "DAYS_BIRTH", "less_than_equal"),
        ({"CODE_GENDER": 1}, "CODE_GENDER", "string_type"),
        ({"CNT_CHILDREN": 1.5}, "CNT_CHILDREN", "int_type"),
        ({"CNT_CHILDREN": -1}, "CNT_CHILDREN", "greater_than_equal"),
    ],
)
def test_request_model_names_the_bad_field(schema, payload, field, error):
    with pytest.raises(ValidationError) as caught:
        schema.request_model()(**payload)
    (problem,) = caught.value.errors()
    assert problem["loc"] == (field,)
    assert problem["type"] == error


def test_an_integer_field_takes_a_whole_float_as_json_encoders_of_float_columns_write_it(schema):
    Application = schema.request_model()
    row = Application.model_validate_json('{"CNT_CHILDREN": 2.0, "FLAG_EMAIL": 1}')
    assert (row.CNT_CHILDREN, row.FLAG_EMAIL) == (2, 1)
    assert type(row.CNT_CHILDREN) is int
    spec = Application.model_json_schema()["properties"]["CNT_CHILDREN"]["anyOf"][0]
    assert spec["type"] == "integer" and spec["minimum"] == 0


def test_an_unseen_category_is_accepted_with_a_warning_naming_the_field(schema):
    row = schema.request_model()(CODE_GENDER="Q", NAME_CONTRACT_TYPE="Cash loans")
    assert schema.unseen_warnings(row.model_dump()) == [
        "CODE_GENDER: category 'Q' was not seen in training; scored as missing"
    ]
    # The OpenAPI spec lists the known categories first, then says what another value does.
    prop = schema.request_model().model_json_schema()["properties"]["CODE_GENDER"]
    assert prop["anyOf"][0]["enum"] == ["F", "M", "XNA"]
    assert "scored as missing" in prop["anyOf"][1]["description"]


def test_strict_mode_refuses_an_unseen_category(schema):
    strict = replace(schema, unseen="reject")
    with pytest.raises(ValidationError) as caught:
        strict.request_model()(CODE_GENDER="Q")
    (problem,) = caught.value.errors()
    assert (problem["loc"], problem["type"]) == (("CODE_GENDER",), "literal_error")
    assert InputSchema.from_json(strict.to_json()).unseen == "reject"


def test_an_order_becomes_the_category_codes(schema):
    education = schema.field("NAME_EDUCATION_TYPE")
    assert education.ordinal and education.categories[0] == "Lower secondary"
    assert education.categories[-1] == "Academic degree"
    with pytest.raises(ValueError, match="must list exactly its categories"):
        FieldSpec("grade", "categorical", categories=("A", "B"), order=("A", "C"))
    with pytest.raises(ValueError, match="for a categorical field"):
        FieldSpec("age", "numeric", order=("1", "2"))


def test_a_schema_stored_before_order_and_unseen_reads_back_with_their_defaults(schema):
    stored = json.loads(schema.to_json())
    stored.pop("unseen")
    for field in stored["fields"]:
        field.pop("order")
    old = InputSchema.from_json(json.dumps(stored))
    assert old.unseen == "missing" and not old.field("CODE_GENDER").ordinal


def test_a_schema_stored_before_monotone_existed_reads_back(schema):
    raw = json.loads(schema.to_json())
    for spec in raw["fields"]:
        del spec["monotone"]
    assert InputSchema.from_json(json.dumps(raw)) == schema
