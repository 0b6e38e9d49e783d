"""`make bench-families` reads each family's CV figures from the run and judges issue 13's
conditions; a run that compared no families says so instead of passing."""

from __future__ import annotations

import math

from benchmarks.model_families import checks, family_cv


def test_per_family_figures_and_the_checks():
    metrics = {
        "cv_auc_mean_lightgbm": 0.775, "cv_auc_std_lightgbm": 0.01,
        "cv_auc_mean_logistic": 0.741, "cv_auc_std_logistic": 0.012,
        "cv_auc_mean_scorecard": 0.760,
    }  # fmt: skip
    cv = family_cv(metrics)
    assert cv["lightgbm"] == (0.775, 0.01) and math.isnan(cv["scorecard"][1])
    assert checks("interactions", "lightgbm", cv) == (
        "promoted >= best other - 0.005: yes; LightGBM promoted, +0.0340 over logistic: yes"
    )
    assert checks("lending", "logistic", cv) == "promoted >= best other - 0.005: NO"


def test_a_run_without_families_is_not_judged():
    cv = family_cv({"cv_roc_auc": 0.74})
    assert cv == {"lightgbm": (0.74, cv["lightgbm"][1])}
    assert checks("hmda", "lightgbm", cv) == "n/a (no family comparison in the run)"
