"""LightGBM hyper-parameter search: random configurations scored by stratified K-fold
cross-validation on the business cost at each configuration's best threshold.

The binned training set is built once and every fold is a subset of it, so a trial costs the
boosting only. Each fold stops early on its own validation part; the out-of-fold predictions
of all folds are scored together (AUC, and cost at the threshold that minimises it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from credit_scoring.core.calibration import sigmoid
from credit_scoring.core.cost import CostMatrix, ThresholdChoice, best_threshold

log = logging.getLogger("credit_scoring.pipeline.search")

SPACE: dict[str, list[Any]] = {
    "num_leaves": [15, 31, 63],
    "learning_rate": [0.05, 0.08, 0.1],
    "min_child_samples": [50, 100, 200],
    "feature_fraction": [0.3, 0.5, 0.7],
    "bagging_fraction": [0.7, 0.9, 1.0],
    "lambda_l2": [0.0, 1.0, 10.0],
    # Imbalance: none, or defaulters weighted up to the class ratio. Compared in the search.
    "class_weight": ["none", "balanced"],
}


def sample_configs(trials: int, seed: int) -> list[dict[str, Any]]:
    """Random configurations; with 2+ trials both imbalance treatments are always compared."""
    rng = np.random.default_rng(seed)
    configs = [{k: v[rng.integers(len(v))] for k, v in SPACE.items()} for _ in range(trials)]
    for i, config in enumerate(configs):
        if trials >= 2:
            config["class_weight"] = SPACE["class_weight"][i % 2]
    return configs


def lightgbm_params(config: dict[str, Any], y: np.ndarray, seed: int) -> dict[str, Any]:
    params = {k: v for k, v in config.items() if k != "class_weight"}
    # A small table (a user's few hundred rows) cannot have leaves of 200 clients: at most a
    # tenth of the rows per leaf, so the trees can split at all. No effect from ~2,000 rows.
    params["min_child_samples"] = min(params["min_child_samples"], max(5, len(y) // 10))
    if config["class_weight"] == "balanced":
        params["scale_pos_weight"] = float((y == 0).sum() / max((y == 1).sum(), 1))
    return params | {
        "objective": "binary",
        "metric": "auc",
        "bagging_freq": 1,
        "seed": seed,
        "num_threads": 0,
        "verbose": -1,
        "max_cat_to_onehot": 8,
    }


def training_set(x: pd.DataFrame, y: pd.Series, categorical: list[str]) -> lgb.Dataset:
    """Binned once; ``feature_pre_filter`` off so trials may vary ``min_child_samples``."""
    return lgb.Dataset(
        x,
        y.to_numpy(),
        categorical_feature=categorical,
        free_raw_data=False,
        params={"feature_pre_filter": False, "verbose": -1},
    ).construct()


def stratified_folds(y: pd.Series, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


@dataclass
class CVResult:
    config: dict[str, Any]
    oof_raw: np.ndarray  # out-of-fold raw log-odds, one per training row
    fold_auc: list[float]
    fold_trees: list[int]
    auc: float  # of the pooled out-of-fold predictions
    choice: ThresholdChoice  # cost-optimal threshold on the out-of-fold probabilities
    seconds: float

    @property
    def trees(self) -> int:
        """Trees for the final model: the folds' mean, scaled up for the larger training set."""
        folds = len(self.fold_trees)
        return max(1, round(np.mean(self.fold_trees) * folds / max(folds - 1, 1)))


def cross_validate(
    config: dict[str, Any],
    data: lgb.Dataset,
    x: pd.DataFrame,
    y: pd.Series,
    folds: list[tuple[np.ndarray, np.ndarray]],
    max_trees: int,
    seed: int,
    costs: CostMatrix,
) -> CVResult:
    started = time.perf_counter()
    labels = y.to_numpy()
    oof = np.empty(len(y))
    fold_auc, fold_trees = [], []
    for k, (fit_rows, valid_rows) in enumerate(folds, start=1):
        params = lightgbm_params(config, labels[fit_rows], seed)
        booster = lgb.train(
            params,
            data.subset(sorted(fit_rows)),
            num_boost_round=max_trees,
            valid_sets=[data.subset(sorted(valid_rows))],
            callbacks=[lgb.early_stopping(max(50, max_trees // 20), verbose=False)],
        )
        oof[valid_rows] = booster.predict(
            x.iloc[valid_rows].to_numpy(), raw_score=True, num_iteration=booster.best_iteration
        )
        fold_auc.append(float(roc_auc_score(labels[valid_rows], oof[valid_rows])))
        fold_trees.append(int(booster.best_iteration))
        log.info("  fold %d/%d: AUC %.4f, %d trees", k, len(folds), fold_auc[-1], fold_trees[-1])
    proba = sigmoid(oof)
    return CVResult(
        config,
        oof,
        fold_auc,
        fold_trees,
        float(roc_auc_score(labels, proba)),
        best_threshold(labels, proba, costs),
        time.perf_counter() - started,
    )


def fit_final(
    config: dict[str, Any], data: lgb.Dataset, y: pd.Series, trees: int, seed: int
) -> lgb.Booster:
    """The chosen configuration on all training rows, with the trees cross-validation chose."""
    params = lightgbm_params(config, y.to_numpy(), seed)
    return lgb.train(params, data, num_boost_round=trees)
