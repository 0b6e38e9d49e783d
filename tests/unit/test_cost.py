"""Business cost and threshold search, against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from credit_scoring.core.cost import CostMatrix, best_threshold, business_cost


def test_cost_counts_missed_defaulters_ten_times():
    y = np.array([1, 1, 0, 0, 0])
    refused = np.array([1, 0, 1, 0, 0])
    assert business_cost(y, refused) == 10 * 1 + 1 * 1
    assert business_cost(y, refused, CostMatrix(fn_cost=5, fp_cost=2)) == 7


def brute_force(y, proba, costs):
    cuts = np.r_[np.unique(proba), np.inf]
    return min(business_cost(y, proba >= t, costs) for t in cuts)


@pytest.mark.parametrize("seed", range(20))
def test_threshold_is_the_exact_minimum(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    y = rng.random(n) < rng.uniform(0.02, 0.5)
    proba = np.round(np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1), int(rng.integers(1, 4)))
    costs = CostMatrix(fn_cost=float(rng.integers(1, 20)), fp_cost=float(rng.integers(1, 5)))
    choice = best_threshold(y, proba, costs)
    assert choice.cost == brute_force(y, proba, costs)
    assert business_cost(y, proba >= choice.threshold, costs) == choice.cost
    assert choice.cost_per_client == pytest.approx(choice.cost / n)


def test_everyone_granted_when_nobody_defaults():
    proba = np.array([0.1, 0.5, 0.9])
    choice = best_threshold(np.zeros(3, bool), proba)
    assert choice.cost == 0 and choice.threshold > 0.9


def test_everyone_refused_when_everybody_defaults():
    choice = best_threshold(np.ones(3, bool), np.array([0.1, 0.5, 0.9]))
    assert choice.cost == 0 and choice.threshold <= 0.1


def test_rejects_mismatched_inputs():
    with pytest.raises(ValueError):
        best_threshold(np.array([1, 0]), np.array([0.5]))
