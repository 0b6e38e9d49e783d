"""Outcomes on a real service: generated applicants scored over HTTP, their generated outcomes
recorded through ``POST /outcomes`` with the loan system's key only (the scoring key and no key
are refused), once (the same outcome again changes nothing, another one is a 409), unknown ids
answered back. (The realised performance they feed is checked with a champion and a challenger
in test_shadow.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from credit_scoring.core import outcomes as outcome_store
from load_tests import traffic
from tests.integration.conftest import Pipeline, serve

pytestmark = pytest.mark.integration
API_KEY, OUTCOMES_KEY = "scoring-key-for-tests", "loan-system-key-for-tests"
ROWS, SEED = 60, 11


@pytest.fixture(scope="module")
def loop(pipeline: Pipeline, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A server with both keys and a decision record of its own."""
    record = tmp_path_factory.mktemp("loop") / "requests.sqlite"
    env = {"CREDIT_API_KEY": API_KEY, "CREDIT_OUTCOMES_KEY": OUTCOMES_KEY}
    with serve(pipeline, CREDIT_REQUEST_LOG=str(record), **env) as url:
        yield url, record


def test_outcomes_take_the_loan_systems_key_and_are_recorded_once(loop: tuple[str, Path]):
    url, record = loop
    scoring = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120
    )
    data, applications = traffic.applicants(ROWS, SEED, shifted=False)
    ids = [a["SK_ID_CURR"] for a in traffic.send(scoring, applications)]
    rows = traffic.outcomes(data, ids, shifted=False, seed=SEED)

    # The scoring key (or none) cannot write outcomes; the loan system's key can, once.
    assert traffic.post_outcomes(scoring, rows, API_KEY).status_code == 401
    assert httpx.post(f"{url}/outcomes", json={"outcomes": rows}).status_code == 401
    first = traffic.post_outcomes(scoring, rows, OUTCOMES_KEY)
    assert first.json() == {"recorded": ROWS, "unchanged": 0, "unknown_ids": []}
    again = traffic.post_outcomes(
        scoring, [*rows[:50], {**rows[0], "applicant_id": 1}], OUTCOMES_KEY
    )
    assert again.json() == {"recorded": 0, "unchanged": 50, "unknown_ids": ["1"]}
    flipped = {**rows[0], "defaulted": not rows[0]["defaulted"]}
    conflict = traffic.post_outcomes(scoring, [flipped], OUTCOMES_KEY)
    assert conflict.status_code == 409 and str(rows[0]["applicant_id"]) in conflict.text

    recorded = outcome_store.read(record)
    assert len(recorded) == ROWS and set(recorded["applicant_id"]) == {str(i) for i in ids}
    kept = recorded.set_index("applicant_id").loc[str(rows[0]["applicant_id"]), "defaulted"]
    assert kept == rows[0]["defaulted"]  # the refused conflict changed nothing


def test_outcomes_are_closed_without_an_outcomes_key(service_url: str):
    answer = httpx.post(f"{service_url}/outcomes", json={"outcomes": []})
    assert answer.status_code == 403 and "CREDIT_OUTCOMES_KEY" in answer.text
