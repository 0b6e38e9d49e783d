"""The synthetic data must look like Home Credit's and carry a plausible, known risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_scoring.profiles.home_credit.reference import SENTINEL_DAYS, application_columns
from credit_scoring.profiles.home_credit.synthetic import generate
from credit_scoring.profiles.home_credit.synthetic_histories import HOME_CREDIT_CLIENTS, REAL_ROWS
from credit_scoring.profiles.home_credit.tables import history_tables

FACTS = {c.name: c for c in application_columns()}


def test_all_122_columns_in_file_order_with_reference_dtypes(applications):
    assert list(applications.columns) == list(FACTS)
    for name, facts in FACTS.items():
        kind = applications[name].dtype.kind
        expected = {"object": "O", "float64": "f", "int64": "if"}[facts.dtype]
        assert kind in expected, f"{name}: {applications[name].dtype} vs {facts.dtype}"


def test_default_rate_and_ids(applications):
    assert applications["TARGET"].mean() == pytest.approx(0.0807, abs=0.006)
    assert applications["SK_ID_CURR"].is_unique


def test_missing_rates_follow_the_reference(applications):
    observed = applications.isna().mean()
    for name, facts in FACTS.items():
        assert observed[name] == pytest.approx(facts.missing_rate, abs=0.03), name


def test_categories_and_ranges_stay_within_the_reference(applications):
    for name, facts in FACTS.items():
        values = applications[name].dropna()
        if facts.is_categorical:
            assert set(values) <= set(facts.categories), name
        elif name != "DAYS_EMPLOYED":
            assert values.min() >= facts.stats["min"] - 1e-9, name
            assert values.max() <= facts.stats["max"] + 1e-9, name


def test_days_employed_sentinel_marks_pensioners(applications):
    sentinel = applications["DAYS_EMPLOYED"] == SENTINEL_DAYS
    assert sentinel.mean() == pytest.approx(0.18, abs=0.02)
    assert (applications.loc[sentinel, "NAME_INCOME_TYPE"] == "Pensioner").all()
    assert (applications.loc[sentinel, "ORGANIZATION_TYPE"] == "XNA").all()
    assert (applications.loc[~sentinel, "DAYS_EMPLOYED"] <= 0).all()
    # Pensioners default less, as in the real data (5.4% vs 8.7%).
    rates = applications.groupby(sentinel)["TARGET"].mean()
    assert rates[True] < rates[False]


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = generate(500, seed=1), generate(500, seed=1), generate(500, seed=2)
    pd.testing.assert_frame_equal(a.applications, b.applications)
    assert not a.applications.equals(c.applications)


def test_bayes_auc_is_realistic(synthetic):
    # Between Home Credit's published single-table (~0.75) and all-table (~0.80) LightGBM AUCs.
    assert 0.74 < synthetic.bayes_auc < 0.82


def test_risk_is_driven_by_external_scores_first(applications, synthetic):
    risk = synthetic.true_probability
    ext = applications[["EXT_SOURCE_2", "EXT_SOURCE_3"]].mean(axis=1)
    low, high = ext < ext.quantile(0.2), ext > ext.quantile(0.8)
    assert risk[low].mean() > 3 * risk[high].mean()
    spearman = lambda col: abs(applications[col].corr(risk, method="spearman"))  # noqa: E731
    assert spearman("EXT_SOURCE_3") > spearman("DAYS_BIRTH") > spearman("AMT_INCOME_TOTAL")
    young = -applications["DAYS_BIRTH"] / 365.25 < 30
    assert risk[young].mean() > risk[~young].mean()
    assert np.isfinite(risk).all() and ((risk > 0) & (risk < 1)).all()


# --- the six history tables ---------------------------------------------------------------


def test_history_tables_have_the_reference_columns_and_types(synthetic):
    for name, spec in history_tables().items():
        table = synthetic.histories[name]
        assert list(table.columns) == list(spec.columns), name
        for column in spec.columns:
            kind = spec.dtype(column)
            assert str(table[column].dtype) == kind, f"{name}.{column}"


def test_history_row_counts_follow_the_real_tables(synthetic):
    clients = len(synthetic.applications)
    for name, real in REAL_ROWS.items():
        expected = real * clients / HOME_CREDIT_CLIENTS
        assert len(synthetic.histories[name]) == pytest.approx(expected, rel=0.05), name


def test_history_keys_link_up(synthetic):
    h = synthetic.histories
    clients = set(synthetic.applications["SK_ID_CURR"])
    for name in ("bureau", "previous_application", "POS_CASH_balance", "installments_payments"):
        assert set(h[name]["SK_ID_CURR"]) <= clients, name
    assert h["bureau"]["SK_ID_BUREAU"].is_unique
    assert set(h["bureau_balance"]["SK_ID_BUREAU"]) <= set(h["bureau"]["SK_ID_BUREAU"])
    for name in ("POS_CASH_balance", "credit_card_balance", "installments_payments"):
        assert set(h[name]["SK_ID_PREV"]) <= set(h["previous_application"]["SK_ID_PREV"]), name
    # several rows per client, most clients with some history, as in Home Credit
    per_client = h["bureau"].groupby("SK_ID_CURR").size()
    assert 0.8 < len(per_client) / len(clients) < 0.9 and per_client.mean() > 5


def test_late_payments_and_refusals_raise_the_true_risk(synthetic):
    h, risk = synthetic.histories, synthetic.true_probability
    ids = synthetic.applications["SK_ID_CURR"]
    ins = h["installments_payments"]
    late = (ins["DAYS_ENTRY_PAYMENT"] > ins["DAYS_INSTALMENT"]).groupby(ins["SK_ID_CURR"]).mean()
    late = ids.map(late)
    assert risk[late > 0.2].mean() > 1.5 * risk[late < 0.05].mean()
    prev = h["previous_application"]
    refused = (prev["NAME_CONTRACT_STATUS"] == "Refused").groupby(prev["SK_ID_CURR"]).sum()
    refused = ids.map(refused).fillna(0)
    assert risk[refused >= 2].mean() > risk[refused == 0].mean()


def test_generation_without_histories_keeps_the_application_only_world():
    data = generate(2000, seed=3, histories=False)
    assert data.histories == {} and 0.7 < data.bayes_auc < 0.85
