"""Model families: each one saved as plain files and read back gives the same scores, its
contributions add up to the raw score exactly, and the linear families applied by their own
few lines of NumPy agree with the library that fitted them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from credit_scoring.core.models import (
    SCORECARD_PREBINS,
    LinearModel,
    LogisticDesign,
    fit_logistic,
    fit_scorecard,
    load_model,
)
from credit_scoring.pipeline import search

CATEGORICAL = ["grade"]


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray]:
    """3,000 loans: income (risk falls with it, 20% missing), a 5-level grade (risk rises
    with it, 10% missing), age, and a bad rate near 15%."""
    rng = np.random.default_rng(5)
    n = 3000
    x = pd.DataFrame(
        {
            "income": rng.lognormal(8, 0.6, n),
            "grade": rng.integers(0, 5, n).astype(float),
            "age": rng.integers(18, 80, n).astype(float),
        }
    )
    logit = -1.8 - 0.8 * (np.log(x["income"]) - 8) + 0.35 * x["grade"] - 0.01 * (x["age"] - 45)
    x.loc[rng.random(n) < 0.2, "income"] = np.nan
    x.loc[rng.random(n) < 0.1, "grade"] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


@pytest.fixture(scope="module")
def logistic(table) -> LinearModel:
    x, y = table
    return fit_logistic(x, y, CATEGORICAL, c=1.0)


@pytest.fixture(scope="module")
def scorecard(table) -> LinearModel:
    x, y = table
    return fit_scorecard(x, y, CATEGORICAL, {"income": "decreasing"})


@pytest.mark.parametrize("family", ["logistic", "scorecard"])
def test_contributions_add_up_and_the_saved_model_scores_the_same(family, table, tmp_path, request):
    x, y = table
    model = request.getfixturevalue(family)
    matrix = x.to_numpy(float)
    raw = model.raw_score(matrix)
    contributions, base = model.contributions(matrix)
    np.testing.assert_allclose(contributions.sum(axis=1) + base, raw, atol=1e-12)
    # Centred: the average applicant's contributions are zero, so base is the mean log-odds.
    np.testing.assert_allclose(contributions.mean(axis=0), 0, atol=1e-9)
    model.save(tmp_path)
    json.loads((tmp_path / f"{family}.json").read_text())  # plain JSON, no pickle
    np.testing.assert_array_equal(load_model(family, tmp_path).raw_score(matrix), raw)
    assert roc_auc_score(y, raw) > 0.65


def test_logistic_applies_the_regression_sklearn_fitted(table):
    from sklearn.linear_model import LogisticRegression

    x, y = table
    design = LogisticDesign.of(x, CATEGORICAL)
    fitted = LogisticRegression(C=1.0, max_iter=500).fit(design.matrix, y)
    model = fit_logistic(x, y, CATEGORICAL, c=1.0)
    np.testing.assert_allclose(
        model.raw_score(x.to_numpy(float)), fitted.decision_function(design.matrix), atol=1e-9
    )


def test_scorecard_applies_the_bins_optbinning_fitted(table):
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    x, y = table
    process = BinningProcess(
        list(x.columns),
        categorical_variables=CATEGORICAL,
        max_n_prebins=SCORECARD_PREBINS,
        binning_fit_params={"income": {"monotonic_trend": "descending"}},
    )
    card = Scorecard(binning_process=process, estimator=LogisticRegression(C=1.0, max_iter=500))
    card.fit(x, y, metric_missing="empirical")
    model = fit_scorecard(x, y, CATEGORICAL, {"income": "decreasing"})
    np.testing.assert_allclose(
        model.raw_score(x.to_numpy(float)), card.decision_function(x), atol=1e-9
    )


def test_scorecard_follows_the_declared_monotone_direction(scorecard):
    income = scorecard.terms[0]
    assert income.name == "income" and income.steps is not None and len(income.steps) > 2
    assert np.all(np.diff(income.steps) <= 1e-12)  # risk never rises with income


def test_unseen_and_missing_categories_are_scored(logistic, scorecard):
    rows = np.array([[3000.0, 9.0, 40.0], [3000.0, np.nan, 40.0]])  # grade 9 never seen
    for model in (logistic, scorecard):
        assert np.isfinite(model.raw_score(rows)).all()


def test_the_simpler_family_wins_a_near_tie():
    def result(family, auc):
        return search.CVResult(family, {}, np.zeros(1), [auc, auc], [0.3, 0.3], 0.0)

    close = {"lightgbm": result("lightgbm", 0.751), "logistic": result("logistic", 0.7495)}
    assert search.choose_family(close) == "logistic"
    apart = {"lightgbm": result("lightgbm", 0.760), "logistic": result("logistic", 0.7495)}
    assert search.choose_family(apart) == "lightgbm"


def test_one_standard_error_prefers_the_more_regularised():
    def result(complexity, losses):
        return search.CVResult(
            "lightgbm", {"c": complexity}, np.zeros(1), [0.7] * 3, losses, complexity
        )

    best = result(500.0, [0.300, 0.310, 0.320])  # mean 0.310, standard error ~0.006
    small = result(40.0, [0.305, 0.312, 0.322])  # within one standard error, far simpler
    worse = result(10.0, [0.330, 0.340, 0.350])
    assert search.one_standard_error([best, small, worse]) is small


def test_folds_are_fixed_by_the_data_and_shared():
    y = np.array([0, 1] * 50)
    first = search.cv_folds(y, 5, 2, search.fold_seed("00ff00ff00ff00ff"))
    again = search.cv_folds(y, 5, 2, search.fold_seed("00ff00ff00ff00ff"))
    assert len(first) == 10
    for (a, b), (c, d) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    other = search.cv_folds(y, 5, 2, search.fold_seed("12345678aaaaaaaa"))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, other, strict=True))


def test_lightgbm_keeps_the_declared_monotone_direction(table):
    x, y = table
    filled = x.fillna({"income": 3000.0, "grade": 2.0})
    folds = search.cv_folds(y, 2, 1, seed=0)
    problem = search.Problem(
        filled, pd.Series(y), CATEGORICAL, folds, 1, 0, {"income": "decreasing"}
    )
    config = search.FIRST_TRIALS[0] | {"num_leaves": 15}
    model = search.fit_lightgbm(config, problem, trees=60)
    grid = np.tile(filled.iloc[:50].to_numpy(float), (40, 1))
    incomes = np.repeat(np.linspace(500, 20000, 40), 50)
    grid[:, 0] = incomes
    raw = model.raw_score(grid).reshape(40, 50)
    assert np.all(np.diff(raw, axis=0) <= 1e-12)  # never more risk for more income
    contributions, base = model.contributions(grid)
    np.testing.assert_allclose(contributions.sum(1) + base, raw.ravel(), atol=1e-9)
