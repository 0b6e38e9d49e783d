"""Fit and choose the calibration on held-out (out-of-fold) raw scores, by Brier score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

from credit_scoring.core.calibration import Calibration, sigmoid

MIN_GAIN = 5e-5  # Brier differences below this are noise: prefer the simpler map


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


def choose_calibration(
    raw_score: np.ndarray, y: np.ndarray, seed: int, folds: int = 5
) -> CalibrationChoice:
    """Each method's Brier score by K-fold over the out-of-fold scores (fit on K-1 parts,
    scored on the last); the simplest method (none < platt < isotonic) within ``MIN_GAIN`` of
    the best is refitted on all of them."""
    y = np.asarray(y, int)
    brier = {"none": float(brier_score_loss(y, sigmoid(raw_score)))}
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for method, fit in FITTERS.items():
        predicted = np.empty_like(raw_score, dtype=float)
        for train, test in splitter.split(raw_score, y):
            predicted[test] = fit(raw_score[train], y[train]).apply(raw_score[test])
        brier[method] = float(brier_score_loss(y, predicted))
    lowest = min(brier.values())
    chosen = next(m for m in ("none", *FITTERS) if brier[m] <= lowest + MIN_GAIN)
    if chosen == "none":
        return CalibrationChoice(Calibration(), brier)
    return CalibrationChoice(FITTERS[chosen](raw_score, y), brier)
