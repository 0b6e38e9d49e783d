"""The history aggregates in NumPy give pandas' groupby values: the function they replaced is
the oracle here, on random columns (missing values, keys without rows, one-row groups) and on
every feature of generated clients with their six history tables."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.features import build_features
from credit_scoring.profiles.home_credit.synthetic import generate

hc_features = importlib.import_module("credit_scoring.profiles.home_credit.features")

STATISTICS = ("size", "sum", "mean", "min", "max", "std", "nunique")


def pandas_aggregate(columns, key, aggregations) -> pd.DataFrame:
    """The pandas groupby version the NumPy one replaced (kept here as the reference)."""
    codes, keys = pd.factorize(np.asarray(columns[key]), sort=False)
    present = codes >= 0
    codes = codes[present]
    out = {}
    for output, (column, function) in aggregations.items():
        values = pd.Series(np.asarray(columns[column])[present])
        out[output] = values.groupby(codes, sort=False).agg(function)
    frame = pd.DataFrame({name: out[name] for name in aggregations})
    frame.index = keys[frame.index.to_numpy()] if len(frame) else pd.Index([], dtype=float)
    return frame


def pandas_as_per_key(columns, key, aggregations) -> hc_features.PerKey:
    frame = pandas_aggregate(columns, key, aggregations)
    return hc_features.PerKey(frame.index.to_numpy(), {c: frame[c].to_numpy() for c in frame})


def as_frame(ours: hc_features.PerKey) -> pd.DataFrame:
    return pd.DataFrame(ours.columns, index=pd.Index(ours.keys))


def ours_as_frame(columns, key, aggregations) -> pd.DataFrame:
    return as_frame(hc_features._aggregate(columns, key, aggregations))


def assert_same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_array_equal(ours.index.to_numpy(), theirs.index.to_numpy())
    np.testing.assert_allclose(
        ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-12, atol=1e-9, equal_nan=True
    )


@pytest.mark.parametrize("seed", range(5))
def test_every_statistic_equals_pandas_groupby(seed):
    rng = np.random.default_rng(seed)
    rows = 5000
    keys = rng.integers(0, 800, rows).astype(float)  # many groups of one or two rows
    keys[rng.random(rows) < 0.03] = np.nan  # rows that belong to no client
    values = rng.normal(1e5, 3e4, rows)
    values[rng.random(rows) < 0.3] = 12345.0  # repeated values: nunique counts them once
    values[rng.random(rows) < 0.2] = np.nan
    keys[:3], values[:3] = 900.0, np.nan  # a group whose values are all missing
    flags = (rng.random(rows) < 0.3).astype(float)
    columns = {"key": keys, "amount": values, "flag": pd.Series(flags)}
    aggregations = {f"A_{f}": ("amount", f) for f in STATISTICS}
    aggregations |= {f"F_{f}": ("flag", f) for f in ("sum", "mean", "max")}
    assert_same(
        ours_as_frame(columns, "key", aggregations),
        pandas_aggregate(columns, "key", aggregations),
    )


def test_no_rows_gives_no_groups():
    columns = {"key": np.array([], float), "amount": np.array([], float)}
    aggregations = {f"A_{f}": ("amount", f) for f in STATISTICS}
    ours = ours_as_frame(columns, "key", aggregations)
    assert ours.empty and list(ours.columns) == list(aggregations)


def test_every_history_feature_of_generated_clients_is_unchanged(schema, monkeypatch):
    data = generate(1500, seed=3)
    ours = build_features(data.applications, schema, data.histories)
    monkeypatch.setattr(hc_features, "_aggregate", pandas_as_per_key)
    theirs = build_features(data.applications, schema, data.histories)
    assert ours.shape == theirs.shape and list(ours.columns) == list(theirs.columns)
    np.testing.assert_allclose(
        ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-12, atol=1e-9, equal_nan=True
    )
