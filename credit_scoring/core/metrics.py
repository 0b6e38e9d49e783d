"""The figures a credit-risk reviewer reads, as pure functions of outcomes and scores.

ROC AUC with a bootstrap confidence interval (with ~100 defaulters an AUC is only known to
about +-0.025), Gini and KS, a decile or band table (counts, bad rate, predicted against
observed, cumulative approval and the bad rate among the approved), the approval-rate vs
bad-rate curve, and the monotone directions the data shows clearly. Training logs them
(``pipeline.report``) and the realised-performance report computes them on outcomes
(``monitoring.performance``); the unit tests check them on figures worked out by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_curve

BOOTSTRAP_RESAMPLES = 1000
MONOTONE_BINS = 5
MONOTONE_P_VALUE = 1e-3  # "clear": the rank correlation is this unlikely under no relation


@dataclass(frozen=True)
class AucInterval:
    auc: float
    low: float  # bootstrap percentile interval at ``level``
    high: float
    level: float = 0.95


def _weighted_auc(y: np.ndarray, groups: np.ndarray, n_groups: int, weights: np.ndarray) -> float:
    """Mann-Whitney AUC with row weights (bootstrap counts): per distinct score, the weight of
    defaulters times the weight of payers scored lower, ties counting half."""
    bad = np.bincount(groups, weights=weights * y, minlength=n_groups)
    good = np.bincount(groups, weights=weights * (1 - y), minlength=n_groups)
    below = np.cumsum(good) - good
    return float(np.sum(bad * (below + 0.5 * good)) / (bad.sum() * good.sum()))


def auc_interval(
    y: np.ndarray,
    score: np.ndarray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> AucInterval:
    """ROC AUC and its bootstrap percentile interval (rows resampled with replacement).

    Each resample is a vector of counts over the rows, so the scores are sorted once: 1,000
    resamples of 60,000 rows take about a second."""
    y = np.asarray(y, dtype=float)
    _, groups = np.unique(np.asarray(score, dtype=float), return_inverse=True)
    n_groups = int(groups.max()) + 1
    auc = _weighted_auc(y, groups, n_groups, np.ones(len(y)))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        counts = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y)).astype(float)
        if (counts * y).sum() and (counts * (1 - y)).sum():  # both classes drawn
            draws.append(_weighted_auc(y, groups, n_groups, counts))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return AucInterval(auc, float(low), float(high), level)


def gini(auc: float) -> float:
    """The Gini coefficient (accuracy ratio) credit teams quote: 2 AUC - 1."""
    return 2 * auc - 1


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the score distributions of defaulters and
    payers (max TPR - FPR over thresholds)."""
    fpr, tpr, _ = roc_curve(np.asarray(y, int), score)
    return float(np.max(tpr - fpr))


def _table(y: np.ndarray, proba: np.ndarray, group: pd.Series) -> pd.DataFrame:
    """Per group (in the order of its categories, lowest risk first): counts, bad rate,
    predicted vs observed, and cumulative approval when granting from the top down."""
    frame = pd.DataFrame({"group": group, "bad": np.asarray(y, int), "proba": proba})
    table = frame.groupby("group", observed=False).agg(
        clients=("bad", "size"),
        bads=("bad", "sum"),
        mean_probability=("proba", "mean"),
        min_probability=("proba", "min"),
        max_probability=("proba", "max"),
    )
    table["bad_rate"] = table["bads"] / table["clients"].where(table["clients"] > 0)
    table["cumulative_approval"] = table["clients"].cumsum() / len(frame)
    table["cumulative_bad_rate"] = table["bads"].cumsum() / table["clients"].cumsum().where(
        table["clients"].cumsum() > 0
    )
    return table.reset_index()


def decile_table(y: np.ndarray, proba: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Equal-sized score groups (deciles by default), lowest predicted risk first: group 1
    is the best tenth of clients. Ties never split across groups (ranks break them)."""
    ranks = pd.Series(proba).rank(method="first").to_numpy()
    labels = pd.Categorical(np.ceil(ranks * groups / len(ranks)).astype(int))
    return _table(y, proba, pd.Series(labels))


def band_table(
    y: np.ndarray, proba: np.ndarray, bands: list[str], labels: tuple[str, ...]
) -> pd.DataFrame:
    """The same table per risk band (``bands`` per client, ``labels`` best first), empty bands
    included: a reviewer sees which bands the model never uses."""
    return _table(y, proba, pd.Series(pd.Categorical(bands, categories=list(labels))))


def approval_curve(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Granting the lowest-risk clients first: (approval rate, bad rate among the approved)
    after each client."""
    order = np.argsort(proba, kind="stable")
    approved = np.arange(1, len(order) + 1)
    return approved / len(order), np.cumsum(np.asarray(y, float)[order]) / approved


def suggest_monotone(
    features: pd.DataFrame,
    y: np.ndarray,
    columns: list[str],
    bins: int = MONOTONE_BINS,
    p_value: float = MONOTONE_P_VALUE,
) -> dict[str, str]:
    """Columns whose risk clearly moves one way: the bad rate rises (or falls) from each
    quantile bin to the next and the rank correlation is significant. A suggestion for the
    analyst to declare (or not): a direction is never applied silently."""
    out = {}
    y = np.asarray(y, float)
    for column in columns:
        values = features[column].to_numpy(float)
        known = ~np.isnan(values)
        if len(np.unique(values[known])) < bins:
            continue
        rho, p = spearmanr(values[known], y[known])
        binned = pd.qcut(values[known], bins, labels=False, duplicates="drop")
        rates = pd.Series(y[known]).groupby(binned).mean().to_numpy()
        steps = np.diff(rates)
        if p < p_value and len(rates) == bins and (np.all(steps > 0) or np.all(steps < 0)):
            out[column] = "increasing" if rho > 0 else "decreasing"
    return out
