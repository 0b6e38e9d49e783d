"""The reviewer's figures on cases worked out by hand: AUC and its interval, Gini, KS, the
decile and band tables, the approval curve, the monotone suggestions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from credit_scoring.core import metrics


def test_auc_gini_and_ks_on_a_hand_worked_case():
    # Defaulters scored 0.9, 0.4; payers 0.1, 0.4, 0.3: pairs (bad > good) 3 + 2.5 of 6.
    y = np.array([1, 1, 0, 0, 0])
    score = np.array([0.9, 0.4, 0.1, 0.4, 0.3])
    interval = metrics.auc_interval(y, score, resamples=200)
    assert interval.auc == pytest.approx(5.5 / 6) == roc_auc_score(y, score)
    assert metrics.gini(interval.auc) == pytest.approx(2 * 5.5 / 6 - 1)
    # At threshold 0.9: TPR 1/2, FPR 0; at 0.4: TPR 1, FPR 1/3 -> KS = 2/3.
    assert metrics.ks_statistic(y, score) == pytest.approx(2 / 3)


def test_the_bootstrap_interval_brackets_the_auc_and_shrinks_with_data():
    rng = np.random.default_rng(0)

    def width(n: int) -> tuple[float, metrics.AucInterval]:
        y = rng.random(n) < 0.05
        score = rng.normal(size=n) + 1.2 * y
        interval = metrics.auc_interval(y, score, resamples=300, seed=1)
        assert interval.low < interval.auc < interval.high
        assert interval.auc == pytest.approx(roc_auc_score(y, score))
        return interval.high - interval.low, interval

    small, _ = width(2000)  # ~100 defaulters: the AUC is known to a few hundredths
    large, _ = width(50_000)
    assert 0.03 < small < 0.12 and large < small / 3


def test_decile_table_counts_bad_rates_and_cumulative_approval():
    proba = np.arange(1, 21) / 100  # 20 clients, risk rising
    y = np.array([0] * 10 + [0, 1] * 5)  # no bad in the best half, one in two in the worst
    table = metrics.decile_table(y, proba, groups=4)
    assert table["clients"].tolist() == [5, 5, 5, 5]
    assert table["bads"].tolist() == [0, 0, 2, 3]
    assert table["bad_rate"].tolist() == [0, 0, 0.4, 0.6]
    assert table["cumulative_approval"].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert table["cumulative_bad_rate"].tolist() == pytest.approx([0, 0, 2 / 15, 5 / 20])
    assert table["mean_probability"].iloc[0] == pytest.approx(0.03)


def test_band_table_keeps_empty_bands_in_order():
    table = metrics.band_table(
        np.array([0, 1, 1]), np.array([0.02, 0.3, 0.4]), ["A", "E", "E"], ("A", "B", "C", "D", "E")
    )
    assert table["group"].tolist() == ["A", "B", "C", "D", "E"]
    assert table["clients"].tolist() == [1, 0, 0, 0, 2]
    assert table["bad_rate"].isna().tolist() == [False, True, True, True, False]


def test_approval_curve_grants_the_lowest_risk_first():
    approval, bad_rate = metrics.approval_curve(
        np.array([1, 0, 0, 1]), np.array([0.9, 0.1, 0.2, 0.5])
    )
    assert approval.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert bad_rate.tolist() == [0, 0, 1 / 3, 0.5]


def test_monotone_suggestions_only_where_the_data_is_clear():
    rng = np.random.default_rng(3)
    n = 20_000
    frame = pd.DataFrame(
        {"debt": rng.random(n), "income": rng.random(n), "noise": rng.random(n),
         "u_shape": rng.random(n)}
    )  # fmt: skip
    log_odds = -2 + 2 * frame["debt"] - 1.5 * frame["income"] + 3 * (frame["u_shape"] - 0.5) ** 2
    y = rng.random(n) < 1 / (1 + np.exp(-log_odds))
    frame.loc[:100, "debt"] = np.nan  # missing values are left out, not a bin
    suggested = metrics.suggest_monotone(frame, y, list(frame))
    assert suggested == {"debt": "increasing", "income": "decreasing"}
