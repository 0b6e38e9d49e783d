"""The business cost of a decision rule and the threshold that minimises it.

A client is refused when their predicted default probability is >= the threshold. A missed
defaulter (granted, then defaults) costs ``fn_cost``; a refused good client costs ``fp_cost``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CostMatrix:
    fn_cost: float = 10.0  # granted a loan, then defaulted
    fp_cost: float = 1.0  # refused, would have repaid


DEFAULT_COSTS = CostMatrix()


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    cost: float  # total cost on the given set
    cost_per_client: float


def business_cost(
    y_true: np.ndarray, refused: np.ndarray, costs: CostMatrix = DEFAULT_COSTS
) -> float:
    y_true, refused = np.asarray(y_true, bool), np.asarray(refused, bool)
    missed = np.sum(y_true & ~refused)
    wrongly_refused = np.sum(~y_true & refused)
    return float(costs.fn_cost * missed + costs.fp_cost * wrongly_refused)


def best_threshold(
    y_true: np.ndarray, proba: np.ndarray, costs: CostMatrix = DEFAULT_COSTS
) -> ThresholdChoice:
    """Exact minimum over every distinct cut of ``proba`` (one sort, no grid).

    Refusing everyone at or above the k-th highest score: cost = fn * (positives below the cut)
    + fp * (negatives above it). Ties share one cut. The threshold returned is the score at the
    cut (midway to the next lower score, so it generalises), or just above the top score when
    granting everyone is cheapest.
    """
    y_true = np.asarray(y_true, bool)
    proba = np.asarray(proba, float)
    if y_true.shape != proba.shape or y_true.size == 0:
        raise ValueError("y_true and proba must be non-empty and of the same length")
    order = np.argsort(-proba, kind="stable")
    scores, labels = proba[order], y_true[order]
    # Cut positions: after each run of equal scores, plus "refuse nobody" at position 0.
    ends = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True]) + 1
    positives_refused = np.r_[0, np.cumsum(labels)[ends - 1]]
    negatives_refused = np.r_[0, ends - positives_refused[1:]]
    total_pos = labels.sum()
    cost = costs.fn_cost * (total_pos - positives_refused) + costs.fp_cost * negatives_refused
    best = int(np.argmin(cost))
    if best == 0:
        threshold = float(np.nextafter(scores[0], np.inf))
    else:
        lowest_refused = scores[ends[best - 1] - 1]
        next_score = scores[ends[best - 1]] if ends[best - 1] < scores.size else 0.0
        threshold = float((lowest_refused + next_score) / 2)
    return ThresholdChoice(threshold, float(cost[best]), float(cost[best]) / y_true.size)
