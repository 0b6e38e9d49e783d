"""Fit and choose the calibration on held-out (out-of-fold) raw scores, by log-loss (Brier
reported beside it), never letting it collapse the ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import StratifiedKFold

from credit_scoring.core.calibration import Calibration, sigmoid

MIN_GAIN = 2e-4  # log-loss differences below this are noise: prefer the simpler map
# Isotonic regression is a step function: on a small model it can map many distinct scores to
# a handful of probabilities (17 seen for a 12-tree model), which ties applicants the model
# ranked apart. It is refused when it keeps fewer than this share of the distinct scores.
MIN_DISTINCT_SHARE = 0.5


def fit_platt(raw_score: np.ndarray, y: np.ndarray) -> Calibration:
    model = LogisticRegression(C=1e6).fit(raw_score.reshape(-1, 1), y)
    return Calibration("platt", {"a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])})


def fit_isotonic(raw_score: np.ndarray, y: np.ndarray) -> Calibration:
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(sigmoid(raw_score), y)
    return Calibration(
        "isotonic",
        {"x": model.X_thresholds_.tolist(), "y": model.y_thresholds_.tolist()},
    )


FITTERS = {"platt": fit_platt, "isotonic": fit_isotonic}


@dataclass
class CalibrationChoice:
    calibration: Calibration
    brier: dict[str, float]  # cross-validated Brier score of each method on the held-out scores
    logloss: dict[str, float]  # cross-validated log-loss of each method (the criterion)
    refused: list[str]  # methods refused for collapsing distinct scores


def collapses(calibration: Calibration, raw_score: np.ndarray) -> bool:
    """Whether the map ties too many scores the model ranked apart."""
    distinct = len(np.unique(raw_score))
    return len(np.unique(calibration.apply(raw_score))) < MIN_DISTINCT_SHARE * distinct


def choose_calibration(
    raw_score: np.ndarray, y: np.ndarray, seed: int, folds: int = 5
) -> CalibrationChoice:
    """Each method's log-loss and Brier score by K-fold over the out-of-fold scores (fit on
    K-1 parts, scored on the last); the simplest method (none < platt < isotonic) within
    ``MIN_GAIN`` of the lowest log-loss is refitted on all of them, unless it collapses the
    scores."""
    y = np.asarray(y, int)
    predicted = {"none": sigmoid(raw_score)}
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for method, fit in FITTERS.items():
        predicted[method] = np.empty_like(raw_score, dtype=float)
        for train, test in splitter.split(raw_score, y):
            predicted[method][test] = fit(raw_score[train], y[train]).apply(raw_score[test])
    brier = {m: float(brier_score_loss(y, p)) for m, p in predicted.items()}
    losses = {m: float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6))) for m, p in predicted.items()}
    fitted = {"none": Calibration()} | {m: fit(raw_score, y) for m, fit in FITTERS.items()}
    refused = [m for m, c in fitted.items() if m != "none" and collapses(c, raw_score)]
    allowed = {m: v for m, v in losses.items() if m not in refused}
    lowest = min(allowed.values())
    chosen = next(m for m in ("none", *FITTERS) if m in allowed and allowed[m] <= lowest + MIN_GAIN)
    return CalibrationChoice(fitted[chosen], brier, losses, refused)
