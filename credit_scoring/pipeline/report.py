"""Hold-out metrics and evaluation figures of a model's probabilities, logged by training."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from credit_scoring.core.cost import CostMatrix, business_cost


def metrics_at(
    y: np.ndarray, proba: np.ndarray, threshold: float, costs: CostMatrix
) -> dict[str, float]:
    """Ranking, calibration and decision figures of probabilities at a threshold."""
    y = np.asarray(y, int)
    refused = proba >= threshold
    cost = business_cost(y, refused, costs)
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "brier": float(brier_score_loss(y, proba)),
        "recall": float(recall_score(y, refused, zero_division=0)),
        "precision": float(precision_score(y, refused, zero_division=0)),
        "business_cost": cost,
        "cost_per_client": cost / len(y),
        "refusal_rate": float(refused.mean()),
    }


def roc_figure(y: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    figure, ax = plt.subplots(figsize=(6, 6))
    for name, proba in curves.items():
        fpr, tpr, _ = roc_curve(y, proba)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, proba):.4f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, hold-out")
    ax.legend(loc="lower right")
    return figure


def cost_figure(y: np.ndarray, proba: np.ndarray, threshold: float, costs: CostMatrix) -> Figure:
    grid = np.linspace(0.0, 1.0, 201)
    per_client = [business_cost(y, proba >= t, costs) / len(y) for t in grid]
    figure, ax = plt.subplots(figsize=(7, 4))
    ax.plot(grid, per_client)
    ax.axvline(threshold, color="r", ls="--", label=f"chosen threshold {threshold:.3f}")
    ax.set(
        xlabel="threshold (refuse when probability >= threshold)",
        ylabel="business cost per client",
        title=f"Cost vs threshold, hold-out (FN={costs.fn_cost:g}, FP={costs.fp_cost:g})",
    )
    ax.legend()
    return figure


def confusion_figure(y: np.ndarray, proba: np.ndarray, threshold: float) -> Figure:
    matrix = confusion_matrix(y, proba >= threshold, labels=[0, 1])
    figure, ax = plt.subplots(figsize=(5, 4.5))
    ConfusionMatrixDisplay(matrix, display_labels=["repays", "defaults"]).plot(
        ax=ax, colorbar=False
    )
    ax.set(xlabel="decision (0 granted, 1 refused)", title=f"Hold-out at threshold {threshold:.3f}")
    return figure


def reliability_figure(y: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    figure, ax = plt.subplots(figsize=(6, 6))
    for name, proba in curves.items():
        observed, predicted = calibration_curve(y, proba, n_bins=15, strategy="quantile")
        brier = brier_score_loss(y, proba)
        ax.plot(predicted, observed, "o-", ms=3, label=f"{name} (Brier {brier:.4f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="predicted probability", ylabel="observed default rate")
    ax.set(title="Reliability, hold-out (quantile bins)")
    ax.legend(loc="upper left")
    return figure


def shap_figure(contributions: np.ndarray, features: pd.DataFrame, top: int = 20) -> Figure:
    """SHAP summary (beeswarm) of a model's exact contributions (any family) on model rows."""
    shap.summary_plot(
        contributions, features, max_display=top, show=False, plot_size=(9, 0.35 * top + 1.5)
    )
    figure = plt.gcf()
    figure.suptitle("SHAP global importance (log-odds of default)")
    return figure
