"""A bucket's checked rows split into what is scored and what is rejected (the all-or-nothing
rule per client), and the packing of rows into per-bucket blobs that Spark shuffles."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from credit_scoring.batch.buckets import APPLICATION, split
from credit_scoring.batch.checks import CLIENT, REASON
from credit_scoring.batch.spark import BUCKET, _pack, _unpacked


def _applications() -> pa.Table:
    return pa.table(
        {
            CLIENT: [1, 2, 3],
            "SK_ID_CURR": [1, 2, 3],
            "AMT_CREDIT": [1000.0, None, 3000.0],
            REASON: [None, None, "AMT_INCOME_TOTAL: below its minimum 0"],  # null: valid
        }
    )


def _bureau() -> pa.Table:
    return pa.table(
        {
            CLIENT: [1, 1, 2, 3, None],
            "SK_ID_CURR": [1, 1, 2, 3, None],
            "AMT_CREDIT_SUM": [5.0, 6.0, 7.0, 8.0, 9.0],
            REASON: [None, None, "AMT_CREDIT_SUM: not a number", None, "SK_ID_CURR: missing"],
        }
    )


def test_a_client_with_a_rejected_history_row_is_not_scored_and_says_why():
    scored, histories, rejects = split(_applications(), {"bureau": _bureau()})
    assert scored is not None
    assert scored["SK_ID_CURR"].to_pylist() == [1]
    assert histories["bureau"]["AMT_CREDIT_SUM"].to_pylist() == [5.0, 6.0]  # client 1's only
    assert CLIENT not in scored.column_names and REASON not in histories["bureau"].column_names
    by = rejects.set_index(["table", "client_id"])["reason"]
    assert by[(APPLICATION, "2")] == "not scored: rejected rows in bureau"
    assert by[(APPLICATION, "3")] == "AMT_INCOME_TOTAL: below its minimum 0"  # its own reason
    assert by[("bureau", "2")] == "AMT_CREDIT_SUM: not a number"
    orphan = rejects[rejects["client_id"].isna()]
    assert orphan["reason"].tolist() == ["SK_ID_CURR: missing"]
    # Client 3's valid bureau row is neither scored nor a reject: its application is.
    assert len(rejects) == 4


def test_a_rejected_row_is_kept_whole_as_json_without_its_nulls():
    _, _, rejects = split(_applications(), {"bureau": _bureau()})
    application = rejects[(rejects["table"] == APPLICATION) & (rejects["client_id"] == "2")]
    assert json.loads(application["row"].iloc[0]) == {"SK_ID_CURR": 2}  # an integer stays one


def test_a_bucket_of_orphan_rows_only_is_all_rejects():
    scored, histories, rejects = split(None, {"bureau": _bureau()})
    assert scored is None and histories == {}
    assert rejects["reason"].tolist() == ["AMT_CREDIT_SUM: not a number", "SK_ID_CURR: missing"]


def test_packing_keeps_every_row_in_its_bucket():
    rng = np.random.default_rng(0)
    rows = pa.table({"x": np.arange(1000), BUCKET: rng.integers(0, 7, 1000).astype("int32")})
    keys = np.array([40, 3, 17, 8, 21, 5, 90], dtype=np.int32)  # each bucket's grouping key
    packed = list(_pack("bureau", keys)(iter(rows.to_batches(max_chunksize=300))))
    blobs = pa.Table.from_batches(packed).to_pandas()
    assert set(blobs["bucket"]) == set(keys.tolist())
    for key, group in blobs.groupby("bucket"):
        got = _unpacked(group)["bureau"]["x"].to_numpy()
        bucket = keys.tolist().index(key)
        expected = rows.filter(pa.compute.equal(rows[BUCKET], bucket))["x"].to_numpy()
        assert sorted(got) == sorted(expected)
    assert isinstance(blobs, pd.DataFrame) and set(blobs["table"]) == {"bureau"}
