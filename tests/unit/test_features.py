"""The one feature function: exact values on hand-made rows, identical for any batch split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.features import (
    build_features,
    categorical_features,
    feature_names,
)


def test_engineered_ratios_and_sentinel(schema):
    raw = pd.DataFrame(
        [
            {
                "AMT_CREDIT": 300_000.0,
                "AMT_INCOME_TOTAL": 100_000.0,
                "AMT_ANNUITY": 15_000.0,
                "AMT_GOODS_PRICE": 270_000.0,
                "CNT_FAM_MEMBERS": 2.0,
                "DAYS_BIRTH": -20_000,
                "DAYS_EMPLOYED": 365243,
                "EXT_SOURCE_1": 0.2,
                "EXT_SOURCE_2": 0.4,
                "EXT_SOURCE_3": 0.6,
            },
            {
                "AMT_CREDIT": 1.0,
                "AMT_INCOME_TOTAL": 0.0,
                "DAYS_EMPLOYED": -1000,
                "DAYS_BIRTH": -10_000,
            },
        ]
    )
    f = build_features(raw, schema)
    first = f.iloc[0]
    assert first["CREDIT_INCOME_RATIO"] == 3.0
    assert first["ANNUITY_INCOME_RATIO"] == 0.15
    assert first["ANNUITY_CREDIT_RATIO"] == 0.05
    assert first["GOODS_CREDIT_RATIO"] == 0.9
    assert first["INCOME_PER_PERSON"] == 50_000.0
    assert np.isnan(first["DAYS_EMPLOYED"]) and first["DAYS_EMPLOYED_ANOMALY"] == 1.0
    assert first["EXT_SOURCE_MEAN"] == pytest.approx(0.4)
    assert first["EXT_SOURCE_PROD"] == pytest.approx(0.048)
    assert first["EXT_SOURCE_MISSING"] == 0
    second = f.iloc[1]
    assert np.isnan(second["CREDIT_INCOME_RATIO"])  # zero income: unknown, not inf
    assert second["EMPLOYED_BIRTH_RATIO"] == 0.1
    assert second["DAYS_EMPLOYED_ANOMALY"] == 0.0
    assert second["EXT_SOURCE_MISSING"] == 3


def test_categories_are_coded_by_the_schema_not_the_batch(schema):
    raw = pd.DataFrame({"CODE_GENDER": ["M", "XNA", None, "unheard-of"]})
    codes = build_features(raw, schema)["CODE_GENDER"]
    assert codes.iloc[0] == 1 and codes.iloc[1] == 2
    assert codes.iloc[2:].isna().all()
    assert "CODE_GENDER" in categorical_features(schema)


def test_columns_are_fixed_and_all_float(schema, applications):
    f = build_features(applications.head(50), schema)
    assert list(f.columns) == feature_names(schema)
    assert all(pd.api.types.is_float_dtype(dtype) for dtype in f.dtypes)
    assert not np.isinf(f.to_numpy()).any()


def test_rows_do_not_depend_on_their_batch(schema, applications):
    """Serving scores batches of any size: a row's features must not depend on its neighbours."""
    sample = applications.sample(300, random_state=0)
    whole = build_features(sample, schema)
    one_by_one = pd.concat([build_features(sample.iloc[[i]], schema) for i in range(len(sample))])
    pd.testing.assert_frame_equal(whole, one_by_one)


def test_typed_columns_json_objects_and_text_give_the_same_features(schema, applications):
    """Training reads typed columns (categories as ``category``), the service builds frames of
    JSON values (objects, None) and a CSV may hold text in a numeric column: same features."""
    sample = applications.head(40)
    typed = build_features(sample, schema)
    as_json = sample.astype(object).where(sample.notna(), None)
    pd.testing.assert_frame_equal(build_features(as_json, schema), typed)
    with_text = sample.astype({"AMT_CREDIT": str})
    with_text.loc[with_text.index[0], "AMT_CREDIT"] = "not a number"
    parsed = build_features(with_text, schema)
    assert np.isnan(parsed["AMT_CREDIT"].iloc[0])
    pd.testing.assert_frame_equal(parsed.iloc[1:], typed.iloc[1:])
