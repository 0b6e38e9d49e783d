"""Training computes features for all clients in one batch; serving computes them for one
client from that client's rows only. Both must give the same row, value for value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.features import build_features
from credit_scoring.core.tables import client_rows
from credit_scoring.profiles.home_credit.synthetic import generate
from credit_scoring.profiles.home_credit.tables import BUREAU_BALANCE, ID_COLUMN, history_tables


@pytest.fixture(scope="module")
def small():
    return generate(1500, seed=11)


def test_a_client_alone_gets_the_row_of_the_batch(schema, small):
    batch = build_features(small.applications, schema, small.histories)
    counts = batch["INST_COUNT"] + batch["BUREAU_COUNT"] + batch["CC_MONTHS_COUNT"]
    # The clients with the longest histories (most rounding at stake), and one without any.
    chosen = list(counts.nlargest(4).index) + list(counts[counts == 0].index[:1])
    for i in chosen:
        client = int(small.applications.loc[i, ID_COLUMN])
        alone = build_features(
            small.applications.loc[[i]],
            schema,
            client_rows(small.histories, [client], history_tables()),
        )
        pd.testing.assert_frame_equal(alone, batch.loc[[i]], check_exact=True)


def test_a_client_without_rows_gets_the_same_values_as_without_histories(schema, small):
    batch = build_features(small.applications, schema, small.histories)
    nothing = build_features(small.applications, schema)
    no_rows = (
        ~small.applications[ID_COLUMN].isin(
            pd.concat([t[ID_COLUMN] for n, t in small.histories.items() if n != BUREAU_BALANCE])
        )
    ).to_numpy()
    assert no_rows.any()
    pd.testing.assert_frame_equal(batch[no_rows], nothing[no_rows], check_exact=True)
    # and a client with history does differ
    assert not np.allclose(
        batch.loc[~no_rows, "PREV_COUNT"].to_numpy(), nothing.loc[~no_rows, "PREV_COUNT"]
    )
