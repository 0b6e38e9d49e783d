"""Baselines on the same features and split as LightGBM: a constant (dummy) model and a
logistic regression, so every LightGBM figure has a reference beside it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from credit_scoring.core.cost import CostMatrix, best_threshold
from credit_scoring.pipeline.report import metrics_at


def logistic_pipeline(numeric: list[str], categorical: list[str], seed: int) -> Pipeline:
    """Median imputation with missing flags and scaling for numbers, one-hot for categories."""
    columns = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=20),
                ),
                categorical,
            ),
        ]
    )
    model = LogisticRegression(C=0.1, max_iter=300, random_state=seed)
    return Pipeline([("columns", columns), ("model", model)])


@dataclass
class BaselineResult:
    name: str
    params: dict[str, object]
    metrics: dict[str, float]  # test_* on the hold-out set
    test_proba: np.ndarray


def evaluate_baselines(
    train: tuple[pd.DataFrame, pd.Series],
    test: tuple[pd.DataFrame, pd.Series],
    categorical: list[str],
    costs: CostMatrix,
    seed: int,
) -> list[BaselineResult]:
    """Fit on the training rows; the threshold is chosen on the training predictions (a
    model this rigid barely overfits); metrics on the hold-out rows."""
    (x_train, y_train), (x_test, y_test) = train, test
    numeric = [c for c in x_train.columns if c not in categorical]
    # A column with no observed value in training carries nothing; the imputer would drop it.
    numeric = [c for c in numeric if x_train[c].notna().any()]
    models: dict[str, tuple[DummyClassifier | Pipeline, dict[str, object]]] = {
        "dummy": (DummyClassifier(strategy="prior"), {"strategy": "prior"}),
        "logistic": (
            logistic_pipeline(numeric, categorical, seed),
            {"C": 0.1, "imputation": "median+indicator", "scaling": "standard", "one_hot": True},
        ),
    }
    results = []
    for name, (model, params) in models.items():
        model.fit(x_train, y_train)
        choice = best_threshold(y_train.to_numpy(), model.predict_proba(x_train)[:, 1], costs)
        proba = model.predict_proba(x_test)[:, 1]
        metrics = metrics_at(y_test.to_numpy(), proba, choice.threshold, costs)
        metrics = {f"test_{k}": v for k, v in metrics.items()} | {"threshold": choice.threshold}
        results.append(BaselineResult(name, params, metrics, proba))
    return results
