"""Protected attributes: declared in the schema, kept out of the model's inputs (with what
derives from them), audited per group at the threshold, and gated at promotion."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from credit_scoring.core.dataset import DataError
from credit_scoring.core.features import model_features, protected_features
from credit_scoring.core.schema import InputSchema
from credit_scoring.own_table.table import load_table
from credit_scoring.pipeline import fairness
from credit_scoring.pipeline.fairness import GateBounds, audit_attribute, verdict

HOME_CREDIT_LEFT_OUT = ["CODE_GENDER", "NAME_FAMILY_STATUS", "DAYS_BIRTH", "EMPLOYED_BIRTH_RATIO"]


def test_home_credit_protects_gender_age_family_status_and_what_derives_from_them(schema):
    assert schema.protected == ["CODE_GENDER", "NAME_FAMILY_STATUS", "DAYS_BIRTH"]
    # EMPLOYED_BIRTH_RATIO is a profile feature computed from DAYS_BIRTH: found, not listed.
    assert list(protected_features(schema)) == HOME_CREDIT_LEFT_OUT
    inputs = model_features(schema)
    assert not set(HOME_CREDIT_LEFT_OUT) & set(inputs)
    assert len(inputs) == 289 and "DAYS_EMPLOYED" in inputs


def test_including_a_protected_attribute_takes_an_explicit_option(schema):
    assert set(model_features(schema, ["DAYS_BIRTH"])) - set(model_features(schema)) == {
        "DAYS_BIRTH",
        "EMPLOYED_BIRTH_RATIO",
    }
    with pytest.raises(DataError, match="AMT_CREDIT: not a protected attribute"):
        model_features(schema, ["AMT_CREDIT"])


def test_protected_fields_survive_the_stored_json_and_old_json_reads_back(schema):
    again = InputSchema.from_json(schema.to_json())
    assert again.protected == schema.protected
    old = json.loads(schema.to_json())
    for spec in old["fields"]:
        del spec["protected"], spec["derived_from"]
    assert InputSchema.from_json(json.dumps(old)).protected == []


def _hmda_like(tmp_path: Path, override: str) -> tuple[InputSchema, pd.DataFrame]:
    rows = 80
    frame = pd.DataFrame(
        {
            "id": range(rows),
            "deny": ["yes", "no", "no", "no"] * (rows // 4),
            "ratio": np.linspace(0.1, 0.9, rows),
            "afam": ["yes", "no"] * (rows // 2),
            "single": ["no", "no", "yes", "no"] * (rows // 4),
            "single_income": np.arange(rows) * 1.0,
        }
    )
    frame.to_csv(tmp_path / "hmda.csv", index=False)
    (tmp_path / "o.yaml").write_text(override)
    return load_table(tmp_path / "hmda.csv", "deny", "id", "yes", tmp_path / "o.yaml")


def test_a_users_override_file_declares_protected_columns_and_derived_ones(tmp_path):
    schema, table = _hmda_like(
        tmp_path,
        "protected: [afam, single]\ncolumns:\n  single_income: {derived_from: [single]}\n",
    )
    assert schema.protected == ["afam", "single"]
    assert schema.field("single_income").derived_from == ("single",)
    assert model_features(schema) == ["ratio"]
    assert {"afam", "single"} <= set(table.columns)  # kept for the audit


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("protected: [race]\n", "names column 'race', which the file does not have"),
        ("protected: afam\n", "protected must be a list of column names"),
        (
            "columns:\n  ratio: {derived_from: [afam]}\n",
            "column 'ratio' is derived_from ['afam'], which are not listed under protected",
        ),
        ("protected: [afam]\nexclude: [afam]\n", "protected columns ['afam'] are also excluded"),
    ],
)
def test_override_mistakes_about_protected_columns_are_named(tmp_path, override, message):
    with pytest.raises(DataError, match=re.escape(message)):
        _hmda_like(tmp_path, override)


def test_fast_auc_equals_scikit_learns_with_ties():
    rng = np.random.default_rng(1)
    y, proba = rng.integers(0, 2, 300), rng.integers(0, 20, 300) / 20
    assert fairness._auc(y, y, proba) == pytest.approx(roc_auc_score(y, proba))


def _decisions() -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Group a: 100 applicants, 80 approved; b: 100, 50 approved; c: 10 (too small)."""
    groups = pd.Series(["a"] * 100 + ["b"] * 100 + ["c"] * 10)
    refused = np.r_[np.arange(100) < 20, np.arange(100) < 50, np.arange(10) < 9]
    proba = np.where(refused, 0.7, 0.2) + np.linspace(0, 0.05, 210)
    y = (np.arange(210) % 3 == 0).astype(int)
    return y, proba, groups


def test_audit_rates_and_adverse_impact_ratio_per_group():
    y, proba, groups = _decisions()
    result = audit_attribute(y, proba, 0.5, groups, seed=0)
    rows = {r["group"]: r for r in result["groups"]}
    assert rows["a"]["approval_rate"] == 0.8 and rows["b"]["approval_rate"] == 0.5
    assert rows["b"]["air"] == pytest.approx(0.625)
    low, high = rows["b"]["approval_rate_ci"]
    assert low < 0.5 < high
    assert result["min_air"] == pytest.approx(0.625) and result["min_air_group"] == "b"
    assert result["min_air_ci"][0] < 0.625 < result["min_air_ci"][1]
    # c (10 applicants, 10% approved) is reported, too small to audit, never the worst ratio.
    assert result["too_small"] == ["c"] and rows["c"]["audited"] is False
    assert rows["a"]["target_rate"] == pytest.approx(y[:100].mean())


def test_the_gate_names_attribute_group_and_figure():
    y, proba, groups = _decisions()
    audited = {"attributes": {"race": audit_attribute(y, proba, 0.5, groups)}}
    refused = verdict(audited, GateBounds())
    assert not refused["passed"]
    assert refused["failures"][0].startswith("race = b: adverse impact ratio 0.625 < 0.8")
    assert verdict(audited, GateBounds(min_air=0.6, max_auc_gap=1))["passed"]
    assert verdict({}, GateBounds())["passed"]  # nothing protected: nothing to refuse


def test_the_card_renders_an_attribute_whose_groups_are_too_thin_for_an_auc_gap(schema):
    """An attribute whose groups hold too few defaulters for an AUC each (a small hold-out)
    has no AUC gap and no worst ratio: the card says so instead of failing the training."""
    import lightgbm as lgb

    from credit_scoring.core.models import LightGBMModel
    from credit_scoring.core.scorer import Scorer
    from credit_scoring.pipeline import model_card

    y, proba, groups = _decisions()
    thin = audit_attribute(y[:40], proba[:40], 0.5, groups[:40], seed=0)
    assert "auc_gap" not in thin
    rng = np.random.default_rng(0)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1},
        lgb.Dataset(rng.normal(size=(50, 2)), rng.random(50) < 0.3),
        2,
    )
    scorer = Scorer(
        LightGBMModel(booster),
        0.3,
        schema,
        metadata={
            "metrics": dict.fromkeys(("cv_roc_auc", "test_brier", "test_cost_per_client"), 0.5),
            "fairness": {"attributes": {"CODE_GENDER": thin}},
        },
    )
    markdown, _ = model_card.render(scorer)
    assert "AUC gap n/a (fewer than two groups" in markdown
