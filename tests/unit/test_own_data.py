"""A user's own table: schema inference, the override file, and every refusal with its message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from credit_scoring.core.dataset import DataError
from credit_scoring.core.features import build_features, categorical_features, feature_names
from credit_scoring.core.schema import InputSchema
from credit_scoring.own_table.examples import few_columns, many_categoricals
from credit_scoring.own_table.table import load_own, load_table
from credit_scoring.profiles.home_credit import home_credit_schema
from credit_scoring.serving.contract import ID_PLACEHOLDER, response_models


def csv(tmp_path: Path, frame: pd.DataFrame, name: str = "own.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def table(**extra) -> pd.DataFrame:
    rows = 60
    return pd.DataFrame(
        {"id": range(rows), "y": [0, 1] * (rows // 2), "amount": np.arange(rows) * 10.5} | extra
    )


def refused(path: Path, fragment: str, **options) -> None:
    with pytest.raises(DataError, match=re.escape(fragment)):
        load_table(path, options.pop("target", "y"), options.pop("id_column", "id"), **options)


def test_few_columns_with_a_string_target_and_string_ids(tmp_path):
    path = csv(tmp_path, few_columns(300), "loans.csv")
    dataset = load_own(path, "status", "loan_ref", positive_label="bad")
    schema = dataset.schema
    assert (schema.name, schema.id_column, schema.target_column) == ("loans", "loan_ref", "status")
    assert not schema.id_integer and schema.tables == ()
    assert schema.names == ["income", "age", "purpose"]
    income, age, purpose = schema.fields
    assert (income.kind, income.integer, income.minimum, income.maximum) == (
        "numeric",
        False,
        0.0,
        None,
    )
    assert age.integer and age.required
    assert purpose.categories == ("car", "cash", "home")
    raw = few_columns(300)
    assert dataset.applications["status"].tolist() == (raw["status"] == "bad").astype(int).tolist()
    assert dataset.true_probability is None
    assert dataset.fingerprint()["rows"] == {"loans": 300}
    # The features are the fields, nothing of Home Credit's: no ratio, no history aggregate.
    assert feature_names(schema) == ["income", "age", "purpose"]


def test_many_categoricals_missing_values_parquet_and_an_override(tmp_path):
    path = tmp_path / "customers.parquet"
    many_categoricals(300).to_parquet(path, index=False)
    override = tmp_path / "schema.yaml"
    override.write_text(
        "exclude: [notes]\n"
        "columns:\n"
        "  debt: {maximum: 1000000, description: Outstanding debt}\n"
        "  cat_7: {categories: [level_0, level_1, level_9]}\n"
    )
    dataset = load_own(path, "default", "customer_id", override_path=override)
    schema = dataset.schema
    assert schema.id_integer and "notes" not in schema.names
    assert len(schema.categorical) == 9
    assert schema.field("has_guarantor").categories == ("False", "True")
    utilisation, debt = schema.field("utilisation"), schema.field("debt")
    assert (utilisation.minimum, utilisation.maximum, utilisation.required) == (0.0, 1.0, False)
    assert (debt.maximum, debt.description) == (1_000_000, "Outstanding debt")
    assert schema.field("cat_7").categories == ("level_0", "level_1", "level_9")
    assert schema.field("cat_0").required
    # Stored as JSON with the model, read back identical.
    assert InputSchema.from_json(schema.to_json()) == schema
    # Requests: required fields must be there, missing ones may be left out.
    Application = schema.request_model()
    row = dataset.applications.drop(columns=["default"]).iloc[0].dropna().to_dict()
    Application(**json.loads(json.dumps(row, default=str)))
    with pytest.raises(ValidationError, match="cat_0\n  Field required"):
        Application(**{k: v for k, v in row.items() if k != "cat_0"})
    # A JSON boolean is not the text "True" a boolean column's categories are.
    with pytest.raises(ValidationError, match="has_guarantor\n  Input should be a valid string"):
        Application(has_guarantor=True)


def test_features_of_a_user_schema_do_not_depend_on_the_batch(tmp_path):
    path = tmp_path / "customers.parquet"
    many_categoricals(200).to_parquet(path, index=False)
    (tmp_path / "o.json").write_text(json.dumps({"exclude": ["notes"]}))  # JSON works too
    dataset = load_own(path, "default", "customer_id", override_path=tmp_path / "o.json")
    batch = build_features(dataset.applications, dataset.schema)
    alone = build_features(dataset.applications.iloc[[7]], dataset.schema)
    pd.testing.assert_frame_equal(alone, batch.iloc[[7]])
    assert list(batch.columns) == dataset.schema.names


@pytest.mark.parametrize(
    ("values", "options", "fragment"),
    [
        (
            [0, 1, 2] * 20,
            {},
            "target column 'y' must have exactly two classes, found 3: ['0', '1', '2']",
        ),
        ([1] * 60, {}, "target column 'y' must have exactly two classes, found 1: ['1']"),
        (
            ["good", "bad"] * 30,
            {},
            "target column 'y' holds ['bad', 'good'], not 0/1: say which value means default "
            "with --positive-label, e.g. --positive-label bad",
        ),
        (
            ["good", "bad"] * 30,
            {"positive_label": "defaulted"},
            "--positive-label 'defaulted' is not a value of target column 'y': "
            "found ['bad', 'good']",
        ),
        ([0] * 50 + [1] * 10, {}, "10 defaulters and 50 others; at least 20 of each are needed"),
        ([0, None] * 30, {}, "target column 'y' has 30 missing values"),
    ],
)
def test_target_errors(tmp_path, values, options, fragment):
    refused(csv(tmp_path, table().assign(y=values)), fragment, **options)


def test_yes_no_and_boolean_targets(tmp_path):
    yes_no = load_table(csv(tmp_path, table().assign(y=["no", "yes"] * 30)), "y", "id", "yes")[1]
    assert yes_no["y"].tolist() == [0, 1] * 30
    booleans = load_table(csv(tmp_path, table().assign(y=[False, True] * 30), "b.csv"), "y", "id")
    assert booleans[1]["y"].tolist() == [0, 1] * 30


def test_id_errors(tmp_path):
    duplicated = table().assign(id=[5, 5, 7, 7, *range(10, 66)])
    refused(csv(tmp_path, duplicated), "id column 'id' has 2 duplicated values, e.g. [5, 7]")
    refused(
        csv(tmp_path, table().assign(id=[None, *range(59)]), "b.csv"),
        "id column 'id' has 1 missing values",
    )
    refused(
        csv(tmp_path, table(), "c.csv"),
        "no column 'loan_id'; columns: ['id', 'y', 'amount']",
        id_column="loan_id",
    )


def test_files_that_cannot_be_read(tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b'id,y\n1,0\n2,"1\n')
    refused(broken, f"{broken}: cannot be parsed as CSV")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really parquet")
    refused(corrupt, f"{corrupt}: cannot be parsed as Parquet")
    refused(tmp_path / "absent.csv", "absent.csv: no such file")
    other = tmp_path / "table.xlsx"
    other.write_bytes(b"")
    refused(other, "unknown file type: give a .csv or .parquet file")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    refused(empty, f"{empty}: cannot be parsed as CSV")


def test_column_errors(tmp_path):
    refused(
        csv(tmp_path, table(blank=[None] * 60, also=[np.nan] * 60)),
        "columns entirely empty: ['blank', 'also']; list them under exclude in --schema-override",
    )
    refused(
        csv(tmp_path, table(note=[f"n{i}" for i in range(60)]), "b.csv"),
        "column 'note' has 60 distinct values (more than --max-categories 50)",
    )
    refused(
        csv(tmp_path, table(**{"loan amount": range(60)}), "c.csv"),
        "column names must be letters, digits and '_' (starting with a letter) to become API "
        "fields; rename ['loan amount']",
    )
    refused(
        csv(tmp_path, table(probability=range(60)), "d.csv"),
        "reserved by the API or pydantic: ['probability']",
    )
    # A column with more categories is accepted when the limit is raised.
    schema, _ = load_table(
        csv(tmp_path, table(note=[f"n{i}" for i in range(60)]), "f.csv"),
        "y",
        "id",
        max_categories=60,
    )
    assert len(schema.field("note").categories) == 60


def test_override_errors(tmp_path):
    path = csv(tmp_path, table(region=["n", "s"] * 30, code=[1.0, 2.0, 3.0] * 20))
    cases = {
        "exclude: [nothing]\n": "names column 'nothing', which the file does not have",
        "columns: {amount: {kind: money}}\n": "kind must be numeric or categorical, not 'money'",
        "columns: {amount: {max: 3}}\n": "column 'amount' has unknown keys ['max']; allowed: [",
        "[1, 2]\n": "protected, unseen, date_column; found list",
        "unseen: drop\n": "unseen must be missing or reject, not 'drop'",
        "columns: {region: {order: [s]}}\n": "order is a list of its categories lowest first",
        "columns: {region: {order: [s, n, s]}}\n": "order repeats a category",
        "columns: {region: {order: {s: 1, n: 1}}}\n": "two categories share a number",
        "columns: {region: {order: {s: low, n: high}}}\n": "an order map gives each category a",
        "columns: {region: {order: [s, e]}}\n": "column 'region' holds values outside its "
        "declared order: ['n']",
        "columns: {region: {order: [n, s], kind: numeric}}\n": "has an order, so it cannot be",
        "columns: {amount: 5}\n": "column 'amount' needs a mapping of settings, e.g. {minimum: 0}",
        "columns: {region: {kind: numeric}}\n": "column 'region' is declared numeric but holds "
        "text, e.g. ['n', 's'",
        "exclude: [amount, region, code]\n": "no input column left besides the id and the target",
        "columns: {amount: {reason: [low]}}\n": "column 'amount': reason must be text, not",
        "columns: {amount: {monotone: up}}\n": "monotone must be increasing or decreasing",
        "columns: {region: {monotone: increasing}}\n": "monotone applies to numeric columns only",
    }
    for text, fragment in cases.items():
        override = tmp_path / "override.yaml"
        override.write_text(text)
        refused(path, fragment, override_path=override)
    # A numeric code declared categorical: its labels are what clients send ("2", not 2.0).
    (tmp_path / "override.yaml").write_text("columns: {code: {kind: categorical}}\nname: mine\n")
    schema, typed = load_table(path, "y", "id", override_path=tmp_path / "override.yaml")
    assert schema.name == "mine" and schema.field("code").categories == ("1", "2", "3")
    assert typed["code"].tolist()[:3] == ["1", "2", "3"]
    # A column's reason: the statement its refusals cite, stored with the schema.
    (tmp_path / "override.yaml").write_text("columns: {amount: {reason: Low savings}}\n")
    schema, _ = load_table(path, "y", "id", override_path=tmp_path / "override.yaml")
    assert InputSchema.from_json(schema.to_json()).field("amount").reason == "Low savings"
    # A declared direction of risk reaches the schema stored with the model, and reads back.
    (tmp_path / "override.yaml").write_text("columns: {amount: {monotone: decreasing}}\n")
    schema, _ = load_table(path, "y", "id", override_path=tmp_path / "override.yaml")
    assert schema.field("amount").monotone == "decreasing"
    assert InputSchema.from_json(schema.to_json()).field("amount").monotone == "decreasing"


def test_an_order_in_the_override_codes_the_grades_as_ranks(tmp_path):
    grades = ["B", "A", "C"] * 20
    years = ["10+", "<1", "5"] * 20
    path = csv(tmp_path, table(grade=grades, years=years, level=[3, 1, 2] * 20))
    (tmp_path / "o.yaml").write_text(
        "unseen: reject\ncolumns:\n  grade: {order: [A, B, C]}\n"
        "  years: {order: {'<1': 0, '5': 5, '10+': 10}}\n  level: {order: [1, 2, 3]}\n"
    )
    schema, typed = load_table(path, "y", "id", override_path=tmp_path / "o.yaml")
    assert schema.unseen == "reject"
    assert schema.field("years").categories == ("<1", "5", "10+")
    assert schema.field("level").order == ("1", "2", "3")  # numbers declared ordinal: labels
    features = build_features(typed, schema)
    assert features["grade"].tolist()[:3] == [1.0, 0.0, 2.0]
    assert features["years"].tolist()[:3] == [2.0, 0.0, 1.0]
    # Ordered codes are one number to the models, not unordered levels.
    assert categorical_features(schema) == []


@pytest.mark.parametrize(
    ("id_column", "id_integer", "sent"), [("SK_ID_CURR", True, 1), ("loan_ref", False, "L-1")]
)
def test_answers_echo_the_schemas_id_first(id_column, id_integer, sent):
    score, prediction, explanation = response_models(id_column, id_integer=id_integer)
    answer = prediction(
        **{id_column: sent},
        probability=0.2,
        decision="granted",
        threshold=0.3,
        points=540.0,
        band="D",
        reasons=[],
    )
    assert list(answer.model_dump())[:2] == [id_column, "probability"]
    assert answer.model_dump()[id_column] == sent
    assert next(iter(explanation.model_fields)) == id_column
    assert ID_PLACEHOLDER not in score.model_fields


def test_train_options_go_together(tmp_path):
    from credit_scoring.pipeline.train import own_table

    with pytest.raises(DataError, match="--target, --id, --positive-label and --schema-override"):
        own_table(None, "status", None)
    with pytest.raises(DataError, match="--data needs --target"):
        own_table(tmp_path / "own.csv", None, "id")
    assert own_table(None, None, None) is None


def test_the_form_of_a_user_schema_shows_its_own_fields(tmp_path):
    from ui.form import form_fields

    path = tmp_path / "customers.parquet"
    many_categoricals(200).to_parquet(path, index=False)
    (tmp_path / "o.yaml").write_text("exclude: [notes]\n")
    schema = load_own(path, "default", "customer_id", override_path=tmp_path / "o.yaml").schema
    shown = [f.spec.name for f in form_fields(schema)]
    assert shown[:9] == [f"cat_{k}" for k in range(8)] + ["has_guarantor"]  # required first
    assert set(shown) == set(schema.names)
    assert len(form_fields(home_credit_schema())) == 20  # Home Credit's main fields


def test_the_train_command_refuses_a_bad_file_with_its_reason(tmp_path):
    from typer.testing import CliRunner

    from credit_scoring.cli import app

    table = few_columns(100)
    table.loc[3, "loan_ref"] = table.loc[2, "loan_ref"]
    path = csv(tmp_path, table)
    result = CliRunner().invoke(
        app, ["train", "--data", str(path), "--target", "status", "--id", "loan_ref"]
    )
    assert result.exit_code == 1
    # One line, no traceback: what is wrong with the file.
    assert result.output.splitlines() == [
        f"error: {path}: id column 'loan_ref' has 1 duplicated values, e.g. ['L-00002']"
    ]
