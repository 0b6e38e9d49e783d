"""Shared fixtures: small generated data and the Home Credit schema."""

from __future__ import annotations

import pandas as pd
import pytest

from credit_scoring.core.schema import InputSchema
from credit_scoring.profiles.home_credit import home_credit_schema
from credit_scoring.profiles.home_credit.synthetic import SyntheticData, generate


@pytest.fixture(scope="session")
def schema() -> InputSchema:
    return home_credit_schema()


@pytest.fixture(scope="session")
def synthetic() -> SyntheticData:
    return generate(20_000, seed=7)


@pytest.fixture(scope="session")
def applications(synthetic: SyntheticData) -> pd.DataFrame:
    return synthetic.applications
