"""A served batch runs (almost) without garbage collections (``serving.gc_policy``)."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator

import pytest
from pydantic import TypeAdapter

from credit_scoring.core.features import build_features
from credit_scoring.profiles.home_credit.requests import with_histories
from credit_scoring.profiles.home_credit.synthetic import generate
from credit_scoring.serving import gc_policy
from credit_scoring.serving.batch import to_batch

BATCH = 32  # a worker's batch at 64 clients over two workers; ~180 history rows each here


@pytest.fixture()
def collections() -> Iterator[list[int]]:
    """The generations collected while the test runs; the interpreter's settings restored."""
    threshold = gc.get_threshold()
    started: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(seen)
    yield started
    gc.callbacks.remove(seen)
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _serve_a_batch(schema, bodies: list[bytes]) -> None:
    """What a worker does for one batch up to the model: parse each request, assemble, build
    the features (history rows of every table)."""
    adapter: TypeAdapter[list] = TypeAdapter(list[schema.request_model()])  # type: ignore[misc]
    parsed = [adapter.validate_json(body)[0] for body in bodies]
    batch = to_batch(parsed, schema)
    build_features(batch.applications, schema, batch.histories)


def test_a_batch_of_clients_with_history_runs_at_most_one_young_collection(schema, collections):
    data = generate(400, seed=5)
    applications = data.applications.drop(columns=[schema.target_column]).head(BATCH)
    bodies = [json.dumps([r]).encode() for r in with_histories(data.histories, applications)]
    _serve_a_batch(schema, bodies)  # imports and caches, once

    gc.collect()
    gc.set_threshold(700, 10, 10)  # Python's default
    _serve_a_batch(schema, bodies)
    assert len(collections) > 100  # 253 here, 21 of them of the older generations

    gc_policy.settle()
    collections.clear()
    _serve_a_batch(schema, bodies)
    assert collections in ([], [0])  # at most one, of the young generation
