"""Every feature of 400 generated clients with their six history tables equals the values the
feature code gave before its speed changes (``tests/golden``, written by the pandas
implementation at commit 3709056), from typed tables (training, batch) and from JSON-like
ones (serving: objects, missing values as None)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.features import build_features
from credit_scoring.profiles.home_credit.synthetic import generate

GOLDEN = Path(__file__).parents[1] / "golden" / "home_credit_features.parquet"


@pytest.fixture(scope="module")
def clients():
    return generate(400, seed=11)


def as_json_rows(table: pd.DataFrame) -> pd.DataFrame:
    """A table as the service's batch holds it: Python objects, missing values None."""
    return table.astype(object).where(table.notna(), None)


def assert_golden(features: pd.DataFrame) -> None:
    golden = pd.read_parquet(GOLDEN)
    assert list(features.columns) == list(golden.columns)
    np.testing.assert_allclose(
        features.to_numpy(float), golden.to_numpy(float), rtol=1e-12, atol=1e-9, equal_nan=True
    )


def test_features_from_typed_tables_are_unchanged(schema, clients):
    assert_golden(build_features(clients.applications, schema, clients.histories))


def test_features_from_json_like_rows_are_unchanged(schema, clients):
    histories = {name: as_json_rows(t) for name, t in clients.histories.items()}
    assert_golden(build_features(as_json_rows(clients.applications), schema, histories))
