"""Model search: each family's hyper-parameters chosen by repeated stratified cross-validation
on folds fixed per dataset and shared by every family, then the families compared.

- Folds: ``RepeatedStratifiedKFold`` seeded from the data's fingerprint, so reruns on the same
  data, and every family, see the same partitions; with an application date, forward-chaining
  folds instead (each validates on a later period than any it trains on).
- Within a family: mean out-of-fold log-loss, taking the most regularised configuration within
  one standard error of the best (luck on ~100 defaulters must not pick a 3-tree model).
  LightGBM's configurations come from Optuna (TPE, median pruning after each fold); the
  logistic regression's C from a short grid; the scorecard has one configuration.
- Between families: mean fold ROC AUC (the ranking a cut-off decision uses); a difference
  under ``SIMPLER_MARGIN`` goes to the simpler family.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import pairwise
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from credit_scoring.core.calibration import sigmoid
from credit_scoring.core.models import (
    Family,
    LightGBMModel,
    LinearModel,
    Model,
    fit_logistic,
    fit_scorecard,
)

log = logging.getLogger("credit_scoring.pipeline.search")
Folds = list[tuple[np.ndarray, np.ndarray]]
SIMPLER_MARGIN = 0.002  # CV AUC differences below this go to the simpler family
SIMPLICITY: tuple[Family, ...] = ("scorecard", "logistic", "lightgbm")  # simplest first
LOGISTIC_C = (0.001, 0.01, 0.1, 1.0)
# Two configurations tried first, so a run of very few trials still compares a mid-sized
# model with a strongly regularised one before TPE proposes its own.
FIRST_TRIALS: list[dict[str, Any]] = [
    {
        "num_leaves": 31,
        "learning_rate": 0.05,
        "min_leaf_share": 0.05,
        "feature_fraction": 0.5,
        "bagging_fraction": 0.9,
        "lambda_l1": 0.001,
        "lambda_l2": 1.0,
        "cat_smooth": 10.0,
    },
    {
        "num_leaves": 6,
        "learning_rate": 0.03,
        "min_leaf_share": 0.2,
        "feature_fraction": 0.7,
        "bagging_fraction": 0.8,
        "lambda_l1": 0.1,
        "lambda_l2": 10.0,
        "cat_smooth": 30.0,
    },
]


def fold_seed(fingerprint: str) -> int:
    """The folds' seed from the data's SHA-256 prefix: same data, same folds."""
    return int(fingerprint[:8], 16)


def cv_folds(y: pd.Series | np.ndarray, folds: int, repeats: int, seed: int) -> Folds:
    """``repeats`` x ``folds`` stratified partitions of the training rows, in repeat order."""
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), np.asarray(y)))


def time_folds(dates: pd.Series, folds: int) -> Folds:
    """Forward-chaining folds over the rows' dates: the dates are cut into ``folds + 1``
    consecutive periods of about equal rows, and fold k trains on periods 0..k and validates
    on period k + 1, so no fold trains on the future. A period boundary never splits a date.
    The first period is never validated (its rows have no out-of-fold score)."""
    order = np.argsort(dates.to_numpy(), kind="stable")
    sorted_dates = dates.to_numpy()[order]
    cuts = [np.searchsorted(sorted_dates, sorted_dates[len(order) * j // (folds + 1)])
            for j in range(1, folds + 1)]  # fmt: skip
    bounds = sorted(set(c for c in cuts if 0 < c < len(order)))
    if len(bounds) < 2:
        raise ValueError(
            f"the date column has too few distinct dates for {folds} out-of-time folds"
        )
    edges = [*bounds, len(order)]
    return [(order[:start], order[start:end]) for start, end in pairwise(edges)]


@dataclass
class CVResult:
    """One configuration of one family, cross-validated on the shared folds."""

    family: Family
    config: dict[str, Any]
    oof_raw: np.ndarray  # out-of-fold log-odds of the first repeat (each row scored once)
    fold_auc: list[float]
    fold_logloss: list[float]
    complexity: float  # lower = more regularised (LightGBM: leaves x trees; logistic: C)
    fold_trees: list[int] = field(default_factory=list)
    folds_per_repeat: int = 0  # k of the k-fold partitions (LightGBM's tree count needs it)
    seconds: float = 0.0

    @property
    def auc(self) -> float:
        return float(np.mean(self.fold_auc))

    @property
    def auc_std(self) -> float:
        return float(np.std(self.fold_auc))

    @property
    def logloss(self) -> float:
        return float(np.mean(self.fold_logloss))

    @property
    def logloss_se(self) -> float:
        return float(np.std(self.fold_logloss, ddof=1) / np.sqrt(len(self.fold_logloss)))

    @property
    def trees(self) -> int:
        """LightGBM's trees for the final model: the folds' mean, scaled up for the larger
        training set (all rows instead of (k-1)/k of them)."""
        if not self.fold_trees:
            return 0
        k = max(2, self.folds_per_repeat)
        return max(1, round(np.mean(self.fold_trees) * k / (k - 1)))

    def figures(self) -> dict[str, float]:
        return {
            "cv_auc_mean": self.auc,
            "cv_auc_std": self.auc_std,
            "cv_logloss_mean": self.logloss,
            "cv_logloss_se": self.logloss_se,
        }


def one_standard_error(results: list[CVResult]) -> CVResult:
    """The most regularised result whose mean log-loss is within one standard error of the
    lowest (the one-standard-error rule)."""
    best = min(results, key=lambda r: r.logloss)
    near = [r for r in results if r.logloss <= best.logloss + best.logloss_se]
    return min(near, key=lambda r: (r.complexity, r.logloss))


def choose_family(best: dict[Family, CVResult]) -> Family:
    """The simplest family whose mean CV AUC is within ``SIMPLER_MARGIN`` of the highest."""
    top = max(r.auc for r in best.values())
    return next(f for f in SIMPLICITY if f in best and best[f].auc > top - SIMPLER_MARGIN)


class _Scores:
    """Fold figures gathered while a configuration is cross-validated."""

    def __init__(self, n: int) -> None:
        self.oof = np.full(n, np.nan)
        self.auc: list[float] = []
        self.logloss: list[float] = []

    def add(self, y: np.ndarray, rows: np.ndarray, raw: np.ndarray, first_repeat: bool) -> None:
        if first_repeat:
            self.oof[rows] = raw
        self.auc.append(float(roc_auc_score(y[rows], raw)))
        self.logloss.append(float(log_loss(y[rows], sigmoid(raw), labels=[0, 1])))


# ---- LightGBM ------------------------------------------------------------------------------


def lightgbm_params(
    config: dict[str, Any], y: np.ndarray, seed: int, monotone: list[int]
) -> dict[str, Any]:
    """LightGBM parameters of a configuration; the minimum leaf size is a share of the
    defaulters (a leaf must be able to hold a few of them), at least 5 rows."""
    params = {k: v for k, v in config.items() if k != "min_leaf_share"}
    defaulters = int((y == 1).sum())
    params["min_data_in_leaf"] = max(5, round(config["min_leaf_share"] * defaulters))
    if any(monotone):
        params["monotone_constraints"] = monotone
        params["monotone_constraints_method"] = "advanced"
    return params | {
        "objective": "binary",
        "metric": "binary_logloss",
        "bagging_freq": 1,
        "seed": seed,
        "num_threads": 0,
        "verbose": -1,
        "max_cat_to_onehot": 8,
    }


def training_set(x: pd.DataFrame, y: pd.Series, categorical: list[str]) -> lgb.Dataset:
    """Binned once; ``feature_pre_filter`` off so trials may vary ``min_data_in_leaf``."""
    return lgb.Dataset(
        x,
        y.to_numpy(),
        categorical_feature=categorical,
        free_raw_data=False,
        params={"feature_pre_filter": False, "verbose": -1},
    ).construct()


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    """The LightGBM space: from strongly regularised (4 leaves, learning rate 0.01, large
    leaves, L1/L2) to mid-sized models."""
    return {
        "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.1, log=True),
        "min_leaf_share": trial.suggest_float("min_leaf_share", 0.02, 0.5, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.3, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-3, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 100.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 100.0, log=True),
    }


@dataclass
class Problem:
    """What every family's cross-validation needs: the training rows and the shared folds."""

    x: pd.DataFrame
    y: pd.Series
    categorical: list[str]
    folds: Folds
    repeats: int
    seed: int
    monotone: Mapping[str, str] = field(default_factory=dict)  # feature -> increasing/decreasing

    @property
    def labels(self) -> np.ndarray:
        return self.y.to_numpy()

    def first_repeat(self, k: int) -> bool:
        return k < len(self.folds) // self.repeats

    def monotone_vector(self) -> list[int]:
        sign = {"increasing": 1, "decreasing": -1}
        return [sign.get(self.monotone.get(c, ""), 0) for c in self.x.columns]


def cross_validate_lightgbm(
    config: dict[str, Any],
    data: lgb.Dataset,
    problem: Problem,
    max_trees: int,
    trial: optuna.Trial | None = None,
) -> CVResult:
    """Each fold stops early on its own validation part; after each fold the running mean
    log-loss is reported to Optuna, which may prune the configuration."""
    started = time.perf_counter()
    labels = problem.labels
    scores, trees = _Scores(len(labels)), []
    for k, (fit_rows, valid_rows) in enumerate(problem.folds):
        params = lightgbm_params(config, labels[fit_rows], problem.seed, problem.monotone_vector())
        booster = lgb.train(
            params,
            data.subset(sorted(fit_rows)),
            num_boost_round=max_trees,
            valid_sets=[data.subset(sorted(valid_rows))],
            callbacks=[lgb.early_stopping(max(50, max_trees // 20), verbose=False)],
        )
        raw = booster.predict(
            problem.x.iloc[valid_rows].to_numpy(),
            raw_score=True,
            num_iteration=booster.best_iteration,
        )
        scores.add(labels, valid_rows, np.asarray(raw), problem.first_repeat(k))
        trees.append(int(booster.best_iteration))
        if trial is not None:
            trial.report(float(np.mean(scores.logloss)), k)
            if trial.should_prune():
                raise optuna.TrialPruned()
    return CVResult(
        "lightgbm",
        config,
        scores.oof,
        scores.auc,
        scores.logloss,
        complexity=config["num_leaves"] * float(np.mean(trees)),
        fold_trees=trees,
        folds_per_repeat=len(problem.folds) // problem.repeats,
        seconds=time.perf_counter() - started,
    )


def search_lightgbm(
    problem: Problem,
    trials: int,
    max_trees: int,
    timeout_s: float | None,
    on_trial: Callable[[CVResult], None],
) -> list[CVResult]:
    """Optuna's TPE over ``suggest``'s space (the ``FIRST_TRIALS`` first), the median pruner
    stopping configurations worse than the median after a fold; ``on_trial`` records each
    finished trial (its MLflow run)."""
    data = training_set(problem.x, problem.y, problem.categorical)
    results: list[CVResult] = []

    def objective(trial: optuna.Trial) -> float:
        result = cross_validate_lightgbm(suggest(trial), data, problem, max_trees, trial)
        results.append(result)
        on_trial(result)
        return result.logloss

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=problem.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    for config in FIRST_TRIALS[:trials]:
        study.enqueue_trial(config)
    study.optimize(objective, n_trials=trials, timeout=timeout_s)
    if not results:
        raise RuntimeError("no LightGBM configuration finished within the time budget")
    return results


def price_of_monotonicity(chosen: CVResult, problem: Problem, max_trees: int) -> CVResult:
    """The chosen LightGBM configuration cross-validated again on the same folds without
    the declared monotone constraints: what the constraints cost (or gain) in CV AUC."""
    free = replace(problem, monotone={})
    data = training_set(free.x, free.y, free.categorical)
    return cross_validate_lightgbm(chosen.config, data, free, max_trees)


def fit_lightgbm(config: dict[str, Any], problem: Problem, trees: int) -> LightGBMModel:
    """The chosen configuration on all training rows, with the trees cross-validation chose."""
    labels = problem.labels
    params = lightgbm_params(config, labels, problem.seed, problem.monotone_vector())
    data = training_set(problem.x, problem.y, problem.categorical)
    return LightGBMModel(lgb.train(params, data, num_boost_round=trees))


# ---- the linear families -------------------------------------------------------------------


def _cross_validate_linear(
    family: Family,
    config: dict[str, Any],
    problem: Problem,
    fit: Callable[[pd.DataFrame, np.ndarray], LinearModel],
    complexity: float,
) -> CVResult:
    started = time.perf_counter()
    labels = problem.labels
    scores = _Scores(len(labels))
    for k, (fit_rows, valid_rows) in enumerate(problem.folds):
        model = fit(problem.x.iloc[fit_rows], labels[fit_rows])
        raw = model.raw_score(problem.x.iloc[valid_rows].to_numpy(float))
        scores.add(labels, valid_rows, raw, problem.first_repeat(k))
    seconds = time.perf_counter() - started
    return CVResult(
        family, config, scores.oof, scores.auc, scores.logloss, complexity, seconds=seconds
    )


def _fit_logistic(x: pd.DataFrame, y: np.ndarray, categorical: list[str], c: float) -> LinearModel:
    return fit_logistic(x, y, categorical, c)


def search_logistic(problem: Problem, on_trial: Callable[[CVResult], None]) -> list[CVResult]:
    """C over ``LOGISTIC_C`` (smaller = stronger L2 penalty = more regularised)."""
    results = []
    for c in LOGISTIC_C:
        result = _cross_validate_linear(
            "logistic",
            {"C": c},
            problem,
            partial(_fit_logistic, categorical=problem.categorical, c=c),
            c,
        )
        on_trial(result)
        results.append(result)
    return results


def search_scorecard(problem: Problem, on_trial: Callable[[CVResult], None]) -> list[CVResult]:
    """One configuration: optbinning's optimal bins, the declared monotone trends."""
    result = _cross_validate_linear(
        "scorecard",
        {"monotone": sorted(problem.monotone)},
        problem,
        lambda x, y: fit_scorecard(x, y, problem.categorical, problem.monotone),
        0.0,
    )
    on_trial(result)
    return [result]


def fit_family(result: CVResult, problem: Problem) -> Model:
    """The chosen configuration of a family refitted on all training rows."""
    labels = problem.labels
    if result.family == "lightgbm":
        return fit_lightgbm(result.config, problem, result.trees)
    if result.family == "logistic":
        return fit_logistic(problem.x, labels, problem.categorical, result.config["C"])
    return fit_scorecard(problem.x, labels, problem.categorical, problem.monotone)
