"""A Python client of the real service: BentoML's own client, with the API key, gets the
model's answers. (The keyed server's fixture also checks that no worker outlives it.)"""

from __future__ import annotations

import pandas as pd
import pytest

from credit_scoring.core.scorer import Scorer
from deploy.smoke import served_probabilities
from tests.integration.conftest import API_KEY, Pipeline
from tests.integration.test_pipeline import applicants

pytestmark = pytest.mark.integration


def test_bentomls_client_with_the_key_gets_the_models_answers(
    pipeline: Pipeline, keyed_service_url: str
):
    rows = applicants(pipeline, 4, offset=21)
    served = served_probabilities(keyed_service_url, API_KEY, rows)
    expected = Scorer.load(pipeline.model_dir()).predict_proba(pd.DataFrame.from_records(rows))
    assert served == pytest.approx(expected, abs=1e-9)
