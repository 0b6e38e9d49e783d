"""Calibration: fitted on held-out scores, stored as JSON in the bundle, applied by the scorer
to predictions and explanations alike (contributions still add up to the raw log-odds)."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from credit_scoring.core.calibration import Calibration, sigmoid
from credit_scoring.core.features import build_features
from credit_scoring.core.models import LightGBMModel
from credit_scoring.core.scorer import META_FILE, Scorer
from credit_scoring.pipeline.calibrate import (
    choose_calibration,
    collapses,
    fit_isotonic,
    fit_platt,
)
from credit_scoring.profiles.home_credit.synthetic import generate


def test_platt_recovers_a_known_distortion():
    rng = np.random.default_rng(0)
    raw = rng.normal(-2, 1.5, 20_000)
    y = rng.random(raw.size) < sigmoid(0.5 * raw - 1.0)  # the model is over-confident
    platt = fit_platt(raw, y)
    assert platt.params["a"] == pytest.approx(0.5, abs=0.05)
    assert platt.params["b"] == pytest.approx(-1.0, abs=0.15)
    choice = choose_calibration(raw, y, seed=0)
    assert choice.calibration.method != "none"
    assert min(choice.brier["platt"], choice.brier["isotonic"]) < choice.brier["none"]


def test_well_calibrated_scores_are_left_alone():
    rng = np.random.default_rng(1)
    raw = rng.normal(-2.5, 1, 20_000)
    y = rng.random(raw.size) < sigmoid(raw)
    assert choose_calibration(raw, y, seed=0).calibration.method == "none"


def test_isotonic_is_refused_when_it_ties_scores_the_model_ranked_apart():
    # A small model's scores, and calibration data where isotonic regression would pool most
    # of them into a few steps (fewer probabilities than scores, a lower AUC).
    rng = np.random.default_rng(3)
    raw = rng.normal(-2, 0.3, 3000)
    y = rng.random(raw.size) < 0.12  # the scores carry no signal: isotonic is flat
    assert collapses(fit_isotonic(raw, y), raw)
    choice = choose_calibration(raw, y, seed=0)
    assert "isotonic" in choice.refused and choice.calibration.method != "isotonic"
    assert set(choice.logloss) == {"none", "platt", "isotonic"}
    proba = choice.calibration.apply(raw)
    assert len(np.unique(proba)) == len(np.unique(raw))  # every distinct score kept


def test_isotonic_is_monotone_and_within_0_1():
    rng = np.random.default_rng(2)
    raw = rng.normal(-2, 1, 5000)
    y = rng.random(raw.size) < sigmoid(raw + 0.5)
    mapped = fit_isotonic(raw, y).apply(np.sort(raw))
    assert np.all(np.diff(mapped) >= 0) and mapped.min() >= 0 and mapped.max() <= 1


@pytest.fixture(scope="module")
def scorer(schema):
    data = generate(1500, seed=5)
    x = build_features(data.applications, schema, data.histories)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 7},
        lgb.Dataset(x, data.applications["TARGET"]),
        num_boost_round=20,
    )
    reference = data.applications.head(50)
    ids = set(reference["SK_ID_CURR"])
    histories = {
        n: t[t["SK_ID_CURR"].isin(ids)] for n, t in data.histories.items() if n != "bureau_balance"
    }
    balance = data.histories["bureau_balance"]
    histories["bureau_balance"] = balance[
        balance["SK_ID_BUREAU"].isin(histories["bureau"]["SK_ID_BUREAU"])
    ]
    return Scorer(
        LightGBMModel(booster),
        0.2,
        schema,
        reference=reference,
        calibration=Calibration("platt", {"a": 0.7, "b": -0.4}),
        reference_histories={n: t.reset_index(drop=True) for n, t in histories.items()},
    )


@pytest.mark.parametrize(
    "calibration",
    [
        Calibration(),
        Calibration("platt", {"a": 0.7, "b": -0.4}),
        Calibration("isotonic", {"x": [0.0, 0.05, 0.2, 1.0], "y": [0.01, 0.04, 0.3, 0.9]}),
    ],
)
def test_calibration_round_trips_through_the_bundle(scorer, calibration, tmp_path):
    scorer.calibration = calibration
    scorer.save(tmp_path)
    assert json.loads((tmp_path / META_FILE).read_text())["calibration"]["method"] == (
        calibration.method
    )
    loaded = Scorer.load(tmp_path)
    assert loaded.calibration == calibration
    apps, histories = loaded.reference_rows(loaded.reference["SK_ID_CURR"].tolist()[:10])
    raw = loaded.raw_score(apps, histories)
    proba = loaded.predict_proba(apps, histories)
    np.testing.assert_array_equal(proba, calibration.apply(raw))
    np.testing.assert_array_equal(proba, scorer.predict_proba(apps, histories))
    explanation = loaded.explain(apps, histories)
    np.testing.assert_allclose(explanation.contributions.sum(1) + explanation.base_value, raw)
    np.testing.assert_allclose(explanation.probability, proba, rtol=1e-12)


def test_reference_histories_round_trip(scorer, tmp_path):
    scorer.save(tmp_path)
    loaded = Scorer.load(tmp_path)
    assert set(loaded.reference_histories) == set(scorer.reference_histories)
    for name, table in scorer.reference_histories.items():
        pd.testing.assert_frame_equal(loaded.reference_histories[name], table)
    assert (tmp_path / "reference_bureau_balance.parquet").is_file()


def test_an_old_bundle_without_calibration_still_loads(scorer, tmp_path):
    scorer.save(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    del meta["calibration"]
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    assert Scorer.load(tmp_path).calibration == Calibration()
