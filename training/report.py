"""Evaluation figures and plots for a fitted scorer, logged to MLflow by train."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

from credit_scoring.cost import business_cost
from credit_scoring.scorer import Scorer


def holdout_metrics(scorer: Scorer, applications: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    proba = scorer.predict_proba(applications)
    refused = proba >= scorer.threshold
    cost = business_cost(y, refused, scorer.costs)
    return {
        "roc_auc": roc_auc_score(y, proba),
        "pr_auc": average_precision_score(y, proba),
        "recall": recall_score(y, refused, zero_division=0),
        "precision": precision_score(y, refused, zero_division=0),
        "business_cost": cost,
        "cost_per_client": cost / len(y),
        "refusal_rate": float(refused.mean()),
    }


def shap_importance_figure(scorer: Scorer, applications: pd.DataFrame, top: int = 20):
    """SHAP summary (beeswarm) of the exact TreeSHAP values on a sample of applicants."""
    explanation = scorer.explain(applications)
    shap.summary_plot(
        explanation.contributions,
        explanation.features,
        max_display=top,
        show=False,
        plot_size=(9, 0.35 * top + 1.5),
    )
    figure = plt.gcf()
    figure.suptitle("SHAP global importance (log-odds of default)")
    return figure


def mean_abs_shap(scorer: Scorer, applications: pd.DataFrame) -> pd.Series:
    contributions = scorer.explain(applications).contributions
    return pd.Series(np.abs(contributions).mean(axis=0), index=scorer.feature_names).sort_values(
        ascending=False
    )
