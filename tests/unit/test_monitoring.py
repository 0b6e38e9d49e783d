"""Pure parts of monitoring and load testing: the shifted population, the request window, the
load-test verdicts. The end-to-end drift test is in tests/integration/test_drift.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_scoring.monitoring.drift import current_window
from credit_scoring.profiles.home_credit.reference import SENTINEL_DAYS
from credit_scoring.profiles.home_credit.synthetic import PopulationShift, shift_population
from load_tests.run import capacity, judge

SHIFTED = [
    *("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3", "DAYS_BIRTH", "DAYS_EMPLOYED"),
    *("AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE"),
]


def test_shifted_population_moves_the_named_fields_only(applications):
    original = applications.head(2000).copy()
    shifted = shift_population(original)
    pd.testing.assert_frame_equal(original, applications.head(2000))  # input untouched
    assert "TARGET" not in shifted
    assert shifted["EXT_SOURCE_2"].mean() < 0.8 * original["EXT_SOURCE_2"].mean()
    assert (-shifted["DAYS_BIRTH"]).mean() < 0.85 * (-original["DAYS_BIRTH"]).mean()
    assert shifted["AMT_CREDIT"].median() == pytest.approx(
        1.6 * original["AMT_CREDIT"].median(), rel=0.01
    )
    assert shifted["EXT_SOURCE_3"].mean() < 0.8 * original["EXT_SOURCE_3"].mean()
    assert (shifted["AMT_ANNUITY"] / shifted["AMT_CREDIT"]).median() == pytest.approx(
        (original["AMT_ANNUITY"] / original["AMT_CREDIT"]).median(), rel=0.01
    )
    untouched = [c for c in shifted if c not in SHIFTED]
    pd.testing.assert_frame_equal(shifted[untouched], original[untouched])


def test_shifted_applicants_stay_valid_requests(applications, schema):
    shifted = shift_population(applications.head(3000))
    adult_days = shifted["DAYS_EMPLOYED"] - shifted["DAYS_BIRTH"]
    employed = shifted["DAYS_EMPLOYED"] != SENTINEL_DAYS
    assert (adult_days[employed] >= 18 * 365).all()  # nobody worked before 18
    model = schema.request_model()
    for row in shifted.drop(columns="SK_ID_CURR").to_dict(orient="records"):
        model(**{k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))})


def test_no_shift_is_the_identity(applications):
    table = applications.head(500)
    same = shift_population(table, PopulationShift(1.0, 1.0, 1.0))
    pd.testing.assert_frame_equal(same, table.drop(columns="TARGET"), check_dtype=False)


def _log(rows: list[dict], model: str = "m:1") -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["model_version"] = model
    frame["endpoint"] = "predict"
    frame["logged_at"] = pd.to_datetime(np.arange(len(frame)), unit="s", utc=True)
    return frame


def test_window_counts_each_application_once_and_respects_model_and_time():
    rows = [
        {"A": 1.0, "B": "x", "probability": 0.1},
        {"A": 1.0, "B": "x", "probability": 0.1},  # the same application scored twice
        {"A": 2.0, "B": None, "probability": 0.3},
        {"A": 3.0, "B": "y", "probability": 0.5},
    ]
    rescored = _log([{"A": 9.0, "B": "z", "probability": 0.9}]).assign(endpoint="predict_client")
    logged = pd.concat([_log(rows), _log(rows[:1], model="m:0"), rescored], ignore_index=True)
    window, distinct = current_window(logged, ["A"], ["A", "B"], "m:1", None, None)
    assert len(window) == 4 and len(distinct) == 3
    assert list(distinct.columns) == ["A", "probability"]
    since = pd.Timestamp(2, unit="s", tz="UTC")
    _, later = current_window(logged, ["A"], ["A", "B"], "m:1", since, None)
    assert later["A"].tolist() == [2.0, 3.0]


def test_window_without_rows_of_the_model_names_the_versions():
    with pytest.raises(Exception, match=r"m:0"):
        current_window(
            _log([{"A": 1.0, "probability": 0.2}], "m:0"), ["A"], ["A"], "m:1", None, None
        )


def _stats(**overrides: tuple[int, int, float]) -> list[dict[str, str]]:
    """Locust's final stats rows: name -> (requests, failures, p95 ms)."""
    endpoints = {
        "POST /predict [1]": (100, 0, 200.0),
        "POST /explain [1]": (20, 0, 300.0),
        "POST /predict [invalid]": (10, 0, 5.0),
    } | overrides
    rows = [
        {
            "Name": name,
            "Request Count": str(n),
            "Failure Count": str(f),
            "95%": str(p95),
            "50%": str(p95 / 2),
            "Requests/s": "10",
        }
        for name, (n, f, p95) in endpoints.items()
    ]
    return [*rows, {"Name": "Aggregated", "Requests/s": "13.0"}]


def test_load_test_passes_within_budget():
    result = judge(_stats(), budget_ms=500)
    assert result["passed"] and result["valid_error_rate"] == 0
    assert result["valid_requests"] == 120 and result["invalid_requests"] == 10


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"POST /predict [1]": (100, 1, 200.0)}, "1 of 120 valid requests failed"),
        ({"POST /predict [invalid]": (10, 2, 5.0)}, "2 invalid requests did not get a 4xx"),
        ({"POST /explain [1]": (20, 0, 501.0)}, "p95 of POST /explain [1] is 501 ms > 500 ms"),
        ({"POST /predict [1]": (0, 0, 0.0), "POST /explain [1]": (0, 0, 0.0)}, "no valid"),
    ],
)
def test_load_test_fails_on_errors_or_latency(override, problem):
    result = judge(_stats(**override), budget_ms=500)
    assert not result["passed"]
    assert any(problem in p for p in result["problems"]), result["problems"]


def test_capacity_is_the_last_step_within_budget():
    steps = [
        {"users": 5, "failures": 0, "p95_ms": 100, "rps": 5.0},
        {"users": 10, "failures": 0, "p95_ms": 300, "rps": 9.5},
        {"users": 15, "failures": 0, "p95_ms": 900, "rps": 11.0},
    ]
    found = capacity(steps, 500, max_users=100)
    assert (found["capacity_users"], found["limited_by"]) == (10, "budget")
    assert capacity(steps[:2], 500, max_users=10)["limited_by"] == "max users (10)"
    assert capacity(steps[2:], 500, max_users=100)["capacity_users"] == 0
