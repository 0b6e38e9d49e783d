"""Out-of-time validation: the hold-out is the latest period, CV folds never train on the
future, and the date column is declared in the override file, never a model input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.dataset import DataError
from credit_scoring.own_table.table import Override, application_dates, infer_schema
from credit_scoring.pipeline.search import time_folds
from credit_scoring.pipeline.train import latest_period


@pytest.fixture
def dates() -> pd.Series:
    days = np.random.default_rng(0).integers(0, 400, 3000)
    return pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(days, "D"), name="applied")


def test_no_fold_trains_on_the_future_and_each_row_is_validated_at_most_once(dates):
    folds = time_folds(dates, 5)
    assert len(folds) == 5
    validated = np.concatenate([valid for _, valid in folds])
    assert len(validated) == len(set(validated))
    for fit, valid in folds:
        assert dates.iloc[fit].max() < dates.iloc[valid].min()  # a date never on both sides


def test_the_hold_out_is_the_latest_fifth_cut_at_a_date(dates):
    train, test = latest_period(dates)
    assert dates[train].max() < dates[test].min()
    assert 0.18 < len(test) / len(dates) < 0.22


def test_one_date_cannot_be_split_in_time():
    same = pd.Series(pd.to_datetime(["2024-01-01"] * 50), name="applied")
    with pytest.raises(DataError, match="applied"):
        latest_period(same)
    with pytest.raises(ValueError, match="distinct dates"):
        time_folds(same, 5)


def test_the_date_column_is_declared_parsed_and_never_an_input(tmp_path):
    table = pd.DataFrame(
        {"id": [1, 2, 3], "bad": [0, 1, 0], "x": [1.0, 2.0, 3.0],
         "applied": ["2024-01-05", "2024-02-01", "2024-03-09"]}
    )  # fmt: skip
    path = tmp_path / "override.yaml"
    path.write_text("date_column: applied\n")
    schema, typed = infer_schema(table, "id", "bad", "book", Override.read(path))
    assert schema.date_column == "applied" and schema.names == ["x"]
    assert typed["applied"].dt.month.tolist() == [1, 2, 3]


def test_an_unreadable_date_names_the_column_and_the_value():
    with pytest.raises(DataError, match=r"'applied'.*1 rows.*31/31/2024"):
        application_dates(pd.Series(["2024-01-05", "31/31/2024"], name="applied"))
