"""History aggregations: exact values on tiny hand-made tables, one table at a time."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.features import build_features, feature_names
from credit_scoring.profiles.home_credit.tables import history_tables

NAN = math.nan


def applications() -> pd.DataFrame:
    # Client 2 has no rows anywhere: counts 0, statistics NaN.
    return pd.DataFrame(
        {"SK_ID_CURR": [1, 2], "AMT_INCOME_TOTAL": [1000.0, 500.0], "AMT_CREDIT": [2000.0, 1.0]}
    )


def features(schema, **tables: pd.DataFrame) -> pd.DataFrame:
    frame = build_features(applications(), schema, tables)
    return frame.set_index(applications()["SK_ID_CURR"])


def check(row: pd.Series, expected: dict[str, float]) -> None:
    for name, value in expected.items():
        if math.isnan(value):
            assert math.isnan(row[name]), name
        else:
            assert row[name] == pytest.approx(value, rel=1e-12), name


def check_absent(row: pd.Series, prefix: str) -> None:
    for name, value in row.items():
        if name.startswith(prefix) and not name.endswith("_RATIO"):
            assert (value == 0) if name.endswith("_COUNT") else math.isnan(value), name


def test_bureau_and_bureau_balance(schema):
    bureau = pd.DataFrame(
        {
            "SK_ID_CURR": [1, 1],
            "SK_ID_BUREAU": [10, 11],
            "CREDIT_ACTIVE": ["Active", "Closed"],
            "CREDIT_TYPE": ["Consumer credit", "Credit card"],
            "DAYS_CREDIT": [-100, -800],
            "AMT_CREDIT_SUM": [1000.0, 3000.0],
            "AMT_CREDIT_SUM_DEBT": [400.0, 0.0],
            "AMT_CREDIT_SUM_OVERDUE": [50.0, 0.0],
            "CREDIT_DAY_OVERDUE": [12, 0],
        }
    )
    balance = pd.DataFrame(
        {
            "SK_ID_BUREAU": [10, 10, 10, 11, 11, 99],  # 99: a credit of nobody here, ignored
            "MONTHS_BALANCE": [0, -1, -2, -20, -21, 0],
            "STATUS": ["0", "1", "X", "C", "C", "5"],
        }
    )
    f = features(schema, bureau=bureau, bureau_balance=balance)
    check(
        f.loc[1],
        {
            "BUREAU_COUNT": 2,
            "BUREAU_ACTIVE_COUNT": 1,
            "BUREAU_CLOSED_COUNT": 1,
            "BUREAU_RECENT_COUNT": 1,
            "BUREAU_OVERDUE_COUNT": 1,
            "BUREAU_ACTIVE_SHARE": 0.5,
            "BUREAU_CARD_SHARE": 0.5,
            "BUREAU_DAYS_CREDIT_MEAN": -450,
            "BUREAU_DAYS_CREDIT_MIN": -800,
            "BUREAU_DAYS_CREDIT_MAX": -100,
            "BUREAU_CREDIT_DAY_OVERDUE_MAX": 12,
            "BUREAU_AMT_CREDIT_SUM_SUM": 4000,
            "BUREAU_AMT_CREDIT_SUM_DEBT_SUM": 400,
            "BUREAU_DEBT_RATIO_MEAN": 0.2,
            "BUREAU_ACTIVE_DEBT_SUM": 400,
            "BUREAU_DAYS_CREDIT_ENDDATE_MEAN": NAN,  # column not given: unknown
            "BUREAU_DEBT_INCOME_RATIO": 0.4,
            "BUREAU_DEBT_CREDIT_RATIO": 0.2,
            "BB_CREDITS_COUNT": 2,
            "BB_MONTHS_COUNT": 5,
            "BB_LATE_MONTHS_COUNT": 1,
            "BB_RECENT_LATE_MONTHS_COUNT": 1,
            "BB_KNOWN_MONTHS_COUNT": 4,  # X is unknown
            "BB_LATE_SHARE": 0.25,
            "BB_CLOSED_SHARE": 0.4,
            "BB_WORST_STATUS_MAX": 1,
            "BB_MONTHS_MEAN": 2.5,
        },
    )
    check_absent(f.loc[2], "BUREAU_")
    check_absent(f.loc[2], "BB_")


def test_previous_applications(schema):
    previous = pd.DataFrame(
        {
            "SK_ID_PREV": [1, 2, 3],
            "SK_ID_CURR": [1, 1, 1],
            "NAME_CONTRACT_STATUS": ["Approved", "Refused", "Canceled"],
            "NAME_CONTRACT_TYPE": ["Cash loans", "Consumer loans", "Cash loans"],
            "AMT_APPLICATION": [100.0, 200.0, 0.0],
            "AMT_CREDIT": [80.0, 100.0, 0.0],
            "DAYS_DECISION": [-100, -200, -1000],
            "DAYS_TERMINATION": [-50.0, 365243.0, NAN],  # the sentinel means "no date"
        }
    )
    check(
        features(schema, previous_application=previous).loc[1],
        {
            "PREV_COUNT": 3,
            "PREV_APPROVED_COUNT": 1,
            "PREV_REFUSED_COUNT": 1,
            "PREV_CANCELED_COUNT": 1,
            "PREV_RECENT_COUNT": 2,
            "PREV_RECENT_REFUSED_COUNT": 1,
            "PREV_REFUSED_SHARE": 1 / 3,
            "PREV_CASH_SHARE": 2 / 3,
            "PREV_ASKED_GIVEN_MEAN": (1.25 + 2.0) / 2,  # 0 / 0 is unknown, not a ratio
            "PREV_REFUSED_AMOUNT_MEAN": 200,
            "PREV_DAYS_DECISION_MEAN": -1300 / 3,
            "PREV_DAYS_DECISION_MAX": -100,
            "PREV_DAYS_TERMINATION_MAX": -50,
            "PREV_AMT_CREDIT_SUM": 180,
            "PREV_CREDIT_RATIO": 60 / 2000,
        },
    )
    check_absent(features(schema, previous_application=previous).loc[2], "PREV_")


def test_pos_cash_balance(schema):
    pos = pd.DataFrame(
        {
            "SK_ID_PREV": [10, 10, 10, 11],
            "SK_ID_CURR": [1, 1, 1, 1],
            "MONTHS_BALANCE": [-1, -2, -13, -30],
            "SK_DPD": [0, 5, 0, 40],
            "SK_DPD_DEF": [0, 0, 0, 40],
            "NAME_CONTRACT_STATUS": ["Active", "Active", "Completed", "Active"],
            "CNT_INSTALMENT_FUTURE": [2.0, 3.0, 0.0, 5.0],
        }
    )
    f = features(schema, POS_CASH_balance=pos)
    check(
        f.loc[1],
        {
            "POS_MONTHS_COUNT": 4,
            "POS_LOANS_COUNT": 2,
            "POS_LATE_MONTHS_COUNT": 2,
            "POS_RECENT_MONTHS_COUNT": 2,
            "POS_RECENT_LATE_MONTHS_COUNT": 1,
            "POS_LATE_SHARE": 0.5,
            "POS_LATE_DEF_SHARE": 0.25,
            "POS_COMPLETED_SHARE": 0.25,
            "POS_SK_DPD_MAX": 40,
            "POS_RECENT_DPD_MAX": 5,
            "POS_MONTHS_BALANCE_MIN": -30,
            "POS_CNT_INSTALMENT_FUTURE_MEAN": 2.5,
            "POS_CNT_INSTALMENT_MEAN": NAN,
        },
    )
    check_absent(f.loc[2], "POS_")


def test_credit_card_balance(schema):
    cards = pd.DataFrame(
        {
            "SK_ID_PREV": [5, 5],
            "SK_ID_CURR": [1, 1],
            "MONTHS_BALANCE": [-1, -20],
            "AMT_BALANCE": [500.0, 1000.0],
            "AMT_CREDIT_LIMIT_ACTUAL": [1000, 1000],
            "AMT_INST_MIN_REGULARITY": [25.0, 50.0],
            "AMT_PAYMENT_TOTAL_CURRENT": [25.0, 10.0],
            "AMT_DRAWINGS_CURRENT": [100.0, 0.0],
            "SK_DPD": [0, 3],
        }
    )
    f = features(schema, credit_card_balance=cards)
    check(
        f.loc[1],
        {
            "CC_MONTHS_COUNT": 2,
            "CC_CARDS_COUNT": 1,
            "CC_LATE_MONTHS_COUNT": 1,
            "CC_RECENT_LATE_MONTHS_COUNT": 0,
            "CC_LATE_SHARE": 0.5,
            "CC_MISSED_MINIMUM_SHARE": 0.5,
            "CC_UTILISATION_MEAN": 0.75,
            "CC_UTILISATION_MAX": 1.0,
            "CC_RECENT_UTILISATION_MEAN": 0.5,
            "CC_PAID_MINIMUM_MEAN": 0.6,
            "CC_PAID_MINIMUM_MIN": 0.2,
            "CC_DRAWINGS_LIMIT_MEAN": 0.05,
            "CC_SK_DPD_MAX": 3,
            "CC_BALANCE_INCOME_RATIO": 0.75,
        },
    )
    check_absent(f.loc[2], "CC_")


def test_installments_payments(schema):
    instalments = pd.DataFrame(
        {
            "SK_ID_PREV": [7, 7, 7],
            "SK_ID_CURR": [1, 1, 1],
            "NUM_INSTALMENT_NUMBER": [1, 2, 3],
            "DAYS_INSTALMENT": [-100.0, -70.0, -400.0],
            "DAYS_ENTRY_PAYMENT": [-105.0, -60.0, NAN],  # early; 10 days late; never paid
            "AMT_INSTALMENT": [100.0, 100.0, 100.0],
            "AMT_PAYMENT": [100.0, 50.0, NAN],
        }
    )
    f = features(schema, installments_payments=instalments)
    check(
        f.loc[1],
        {
            "INST_COUNT": 3,
            "INST_LOANS_COUNT": 1,
            "INST_LATE_COUNT": 1,
            "INST_SHORT_COUNT": 1,
            "INST_UNPAID_COUNT": 1,
            "INST_RECENT_COUNT": 2,
            "INST_LATE_SHARE": 0.5,  # of the paid instalments
            "INST_SHORT_SHARE": 0.5,
            "INST_RECENT_LATE_SHARE": 0.5,
            "INST_DELAY_MEAN": 2.5,
            "INST_DELAY_MAX": 10,
            "INST_DELAY_MIN": -5,
            "INST_DAYS_LATE_MEAN": 5,
            "INST_DAYS_LATE_SUM": 10,
            "INST_SHORTFALL_SUM": 50,
            "INST_SHORTFALL_MAX": 50,
            "INST_PAID_OWED_MEAN": 0.75,
            "INST_PAID_OWED_MIN": 0.5,
            "INST_NUMBER_MAX": 3,
            "INST_INSTALMENT_INCOME_RATIO": 0.1,
        },
    )
    check_absent(f.loc[2], "INST_")


def test_no_histories_means_counts_zero_and_statistics_unknown(schema):
    alone = build_features(applications(), schema)
    with_empty = build_features(
        applications(), schema, {"bureau": history_tables()["bureau"].empty()}
    )
    pd.testing.assert_frame_equal(alone, with_empty)
    assert list(alone.columns) == feature_names(schema)
    assert len(feature_names(schema)) >= 200
    counts = [c for c in alone.columns if c.endswith("_COUNT")]
    assert len(counts) > 20 and (alone[counts] == 0).all().all()
    assert alone["INST_LATE_SHARE"].isna().all() and alone["BUREAU_DAYS_CREDIT_MEAN"].isna().all()


def test_json_like_history_rows_are_typed(schema):
    """A service sends numbers as objects and categories as plain strings: same features."""
    instalments = pd.DataFrame(
        {
            "SK_ID_PREV": [7],
            "SK_ID_CURR": [1],
            "DAYS_INSTALMENT": [-10.0],
            "DAYS_ENTRY_PAYMENT": [-5.0],
            "AMT_INSTALMENT": [100.0],
            "AMT_PAYMENT": [100.0],
        }
    )
    as_objects = instalments.astype(object)
    a = build_features(applications(), schema, {"installments_payments": instalments})
    b = build_features(applications(), schema, {"installments_payments": as_objects})
    pd.testing.assert_frame_equal(a, b)
    assert np.isfinite(a.loc[0, "INST_DELAY_MEAN"])
