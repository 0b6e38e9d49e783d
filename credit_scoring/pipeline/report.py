"""Hold-out metrics, the reviewer's report and evaluation figures of a model's probabilities,
logged by training."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and in CI

from dataclasses import dataclass

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

from credit_scoring.core import metrics
from credit_scoring.core.cost import CostMatrix, business_cost
from credit_scoring.core.points import PointsScale


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


@dataclass(frozen=True)
class Review:
    """What a credit-risk reviewer reads about a model's hold-out answers."""

    auc: metrics.AucInterval
    gini: float
    ks: float
    refusal_rate: float  # at the decision threshold
    threshold: float
    deciles: pd.DataFrame  # lowest risk first
    bands: pd.DataFrame  # A first
    bad_rate: float
    mean_probability: float  # calibration in the large: against bad_rate

    def metrics(self) -> dict[str, float]:
        return {
            "test_roc_auc_ci_low": self.auc.low,
            "test_roc_auc_ci_high": self.auc.high,
            "test_gini": self.gini,
            "test_ks": self.ks,
            "test_bad_rate": self.bad_rate,
            "test_mean_probability": self.mean_probability,
        }

    def short(self) -> list[str]:
        """The report in a few lines, as `train` prints it."""
        deciles = " ".join(f"{r:.1%}" for r in self.deciles["bad_rate"])
        used = self.bands[self.bands["clients"] > 0]
        bands = ", ".join(
            f"{group} {clients} ({rate:.1%} bad)"
            for group, clients, rate in zip(
                used["group"], used["clients"], used["bad_rate"], strict=True
            )
        )
        return [
            f"hold-out AUC {self.auc.auc:.4f} ({self.auc.level:.0%} CI {self.auc.low:.4f}-"
            f"{self.auc.high:.4f}), Gini {self.gini:.4f}, KS {self.ks:.4f}; refusal rate "
            f"{self.refusal_rate:.1%} at threshold {self.threshold:.4f}; mean probability "
            f"{self.mean_probability:.2%} vs bad rate {self.bad_rate:.2%}",
            f"bad rate by decile, lowest risk first: {deciles}",
            f"bands: {bands}",
        ]

    def markdown(self) -> str:
        return "\n".join(
            [
                "# Hold-out report",
                "",
                *(f"- {line}" for line in self.short()),
                "",
                "## Deciles (lowest predicted risk first)",
                "",
                "```",
                self.deciles.to_string(index=False, float_format="{:.4f}".format),
                "```",
                "",
                "## Risk bands",
                "",
                "```",
                self.bands.to_string(index=False, float_format="{:.4f}".format),
                "```",
                "",
            ]
        )


def review(
    y: np.ndarray, proba: np.ndarray, threshold: float, scale: PointsScale, seed: int = 0
) -> Review:
    """The reviewer's figures of calibrated hold-out probabilities at the chosen threshold."""
    y = np.asarray(y, int)
    interval = metrics.auc_interval(y, proba, seed=seed)
    bands = scale.bands_of(np.round(scale.points_of(proba), 1))
    return Review(
        auc=interval,
        gini=metrics.gini(interval.auc),
        ks=metrics.ks_statistic(y, proba),
        refusal_rate=float(np.mean(proba >= threshold)),
        threshold=threshold,
        deciles=metrics.decile_table(y, proba),
        bands=metrics.band_table(y, proba, bands, scale.labels),
        bad_rate=float(y.mean()),
        mean_probability=float(np.mean(proba)),
    )


def approval_figure(y: np.ndarray, curves: dict[str, np.ndarray], threshold: float) -> Figure:
    """Approval rate against the bad rate among the approved, granting the lowest risk first;
    the first curve's point at the decision threshold marked."""
    figure, ax = plt.subplots(figsize=(7, 5))
    for i, (name, proba) in enumerate(curves.items()):
        approval, bad_rate = metrics.approval_curve(y, proba)
        ax.plot(approval, bad_rate, label=name)
        if i == 0:
            granted = float(np.mean(proba < threshold))
            index = max(round(granted * len(approval)) - 1, 0)
            ax.plot(granted, bad_rate[index], "ro", label=f"threshold: {granted:.1%} approved")
    ax.axhline(float(np.mean(y)), color="k", ls=":", lw=1, label="bad rate of all clients")
    ax.set(
        xlabel="approval rate (lowest predicted risk granted first)",
        ylabel="bad rate among the approved",
        title="Approval rate vs bad rate, hold-out",
    )
    ax.legend(loc="upper left")
    return figure
