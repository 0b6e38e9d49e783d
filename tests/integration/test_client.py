"""A Python client of the real service, and the runner's promise to leave no process behind."""

from __future__ import annotations

import pandas as pd
import psutil
import pytest

from credit_scoring.core.scorer import Scorer
from deploy.smoke import served_probabilities
from tests.integration.conftest import SERVERS, Pipeline, serve
from tests.integration.test_pipeline import applicants

pytestmark = pytest.mark.integration

KEY = "client-key-for-tests"


def test_bentomls_client_with_the_key_gets_the_models_answers_and_no_worker_outlives_it(
    pipeline: Pipeline,
):
    rows = applicants(pipeline, 4, offset=21)
    with serve(pipeline, CREDIT_API_KEY=KEY, CREDIT_WORKERS="2") as url:
        tree = SERVERS[url].tree()
        served = served_probabilities(url, KEY, rows)
    expected = Scorer.load(pipeline.model_dir()).predict_proba(pd.DataFrame.from_records(rows))
    assert served == pytest.approx(expected, abs=1e-9)
    assert len(tree) >= 3  # the server and its two workers, each in a session of its own
    assert not [p.pid for p in tree if alive(p)]


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
