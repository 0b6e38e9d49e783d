"""Batch assembly (``serving.batch.to_batch``): applicants of one batch come from different
requests, with history rows as each client wrote them. Their features must be the ones
training computes for the same clients, however the rows were written."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from pydantic import TypeAdapter

from credit_scoring.core.features import build_features
from credit_scoring.profiles.home_credit.requests import with_histories
from credit_scoring.profiles.home_credit.synthetic import generate
from credit_scoring.profiles.home_credit.tables import BUREAU, BUREAU_BALANCE, BUREAU_ID
from credit_scoring.serving.batch import to_batch

CLIENTS = 60


@pytest.fixture(scope="module")
def small():
    return generate(400, seed=23)


def _requests(small, schema) -> list[dict[str, Any]]:
    applications = small.applications.drop(columns=[schema.target_column]).head(CLIENTS)
    return with_histories(small.histories, applications)


def _with_nulls(request: dict[str, Any], tables: tuple[str, ...]) -> dict[str, Any]:
    """The same client, a missing value written as null instead of left out."""
    out = dict(request)
    for name in tables:
        columns = {c for row in request.get(name, ()) for c in row}
        out[name] = [{c: row.get(c) for c in sorted(columns)} for row in request.get(name, ())]
    return out


def _own_credit_ids(request: dict[str, Any]) -> dict[str, Any]:
    """The same client numbering its credits 1, 2, ... as a client may: every client of the
    batch then sends credit 1."""
    out = dict(request)
    renamed = {row[BUREAU_ID]: i + 1 for i, row in enumerate(request.get(BUREAU, ()))}
    for name in (BUREAU, BUREAU_BALANCE):
        out[name] = [row | {BUREAU_ID: renamed[row[BUREAU_ID]]} for row in request.get(name, ())]
    return out


def _served_features(schema, requests: list[dict[str, Any]]) -> pd.DataFrame:
    adapter: TypeAdapter[list[Any]] = TypeAdapter(list[schema.request_model()])  # type: ignore[misc]
    parsed = adapter.validate_json(json.dumps(requests).encode())
    batch = to_batch(parsed, schema)
    return build_features(batch.applications, schema, batch.histories)


def test_clients_get_their_features_however_they_write_their_rows(schema, small):
    requests = _requests(small, schema)
    assert any(len(r.get(BUREAU_BALANCE, ())) for r in requests)  # child rows are at stake
    # Clients write their rows three ways in one batch: values left out, nulls, own ids.
    mixed = [
        [r, _with_nulls(r, schema.tables), _own_credit_ids(r)][i % 3]
        for i, r in enumerate(requests)
    ]
    assert any(
        None in row.values()
        for r in mixed
        for rows in r.values()
        if isinstance(rows, list)
        for row in rows
    )
    features = [c for c in _served_features(schema, requests[:1]).columns if c != schema.id_column]
    served = _served_features(schema, mixed)[features]
    pd.testing.assert_frame_equal(
        served, _served_features(schema, requests)[features], check_exact=True
    )
    alone = pd.concat([_served_features(schema, [r]) for r in requests], ignore_index=True)
    pd.testing.assert_frame_equal(served, alone[features], check_exact=True)


def test_a_served_batch_gets_the_features_training_computes(schema, small):
    served = _served_features(schema, _requests(small, schema))
    trained = build_features(small.applications.head(CLIENTS), schema, small.histories)
    trained.index = served.index
    features = [c for c in trained.columns if c != schema.id_column]  # served: batch positions
    # JSON carries 10 significant digits (pandas' writer): equal to that precision.
    pd.testing.assert_frame_equal(served[features], trained[features], rtol=1e-8)


def test_the_record_keeps_what_each_client_sent(schema, small):
    request = _with_nulls(_requests(small, schema)[0], schema.tables)
    adapter: TypeAdapter[list[Any]] = TypeAdapter(list[schema.request_model()])  # type: ignore[misc]
    parsed = adapter.validate_json(json.dumps([request]).encode())
    logged = to_batch(parsed, schema).logged[0]
    assert logged == {k: v for k, v in request.items() if v is not None}
