"""LightGBM fitted under a few hyper-parameter configurations, each scored by business cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from credit_scoring.cost import CostMatrix, ThresholdChoice, best_threshold

SPACE: dict[str, list[Any]] = {
    "num_leaves": [15, 31, 63],
    "learning_rate": [0.03, 0.05, 0.1],
    "min_child_samples": [20, 50, 100],
    "feature_fraction": [0.5, 0.7, 0.9],
    "bagging_fraction": [0.7, 0.9, 1.0],
    "lambda_l2": [0.0, 1.0, 10.0],
    # Imbalance: none, or weight defaulters up to the class ratio.
    "class_weight": ["none", "balanced"],
}


def sample_configs(trials: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [{k: v[rng.integers(len(v))] for k, v in SPACE.items()} for _ in range(trials)]


@dataclass
class Fitted:
    config: dict[str, Any]
    booster: lgb.Booster
    valid_auc: float
    choice: ThresholdChoice  # chosen on the validation split


def fit(
    config: dict[str, Any],
    train: tuple[pd.DataFrame, pd.Series],
    valid: tuple[pd.DataFrame, pd.Series],
    categorical: list[str],
    max_trees: int,
    seed: int,
    costs: CostMatrix,
) -> Fitted:
    (x_train, y_train), (x_valid, y_valid) = train, valid
    params = {k: v for k, v in config.items() if k != "class_weight"}
    if config["class_weight"] == "balanced":
        params["scale_pos_weight"] = float((y_train == 0).sum() / max((y_train == 1).sum(), 1))
    params |= {
        "objective": "binary",
        "metric": "auc",
        "bagging_freq": 1,
        "seed": seed,
        "num_threads": 0,
        "verbose": -1,
        "max_cat_to_onehot": 8,
    }
    train_set = lgb.Dataset(x_train, y_train, categorical_feature=categorical, free_raw_data=False)
    valid_set = lgb.Dataset(x_valid, y_valid, reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=max_trees,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(max(10, max_trees // 10), verbose=False)],
    )
    booster.free_dataset()
    # Keep only the trees early stopping chose, so the saved model is the scored one.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    proba = booster.predict(x_valid.to_numpy())
    return Fitted(
        config, booster, roc_auc_score(y_valid, proba), best_threshold(y_valid, proba, costs)
    )
