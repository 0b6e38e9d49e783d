"""Scorecard points and bands: the credit team's scale, exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from credit_scoring.core.points import PointsScale


def test_default_scale_is_600_points_at_19_to_1_and_50_to_double():
    scale = PointsScale()
    odds = np.array([19.0, 38.0, 9.5, 1.0])  # good:bad
    points = scale.points_of(1 / (1 + odds))
    assert points == pytest.approx([600, 650, 550, 600 - 50 * math.log2(19)])
    assert scale.probability_at(600) == pytest.approx(0.05)


def test_more_risk_fewer_points_and_certainty_stays_finite():
    points = PointsScale().points_of(np.array([0.0, 0.01, 0.2, 0.9, 1.0]))
    assert np.all(np.diff(points) < 0) and np.isfinite(points).all()


def test_bands_at_their_lower_bounds_best_first():
    scale = PointsScale(cutoffs=(650, 600, 550, 500))
    assert scale.bands_of(np.array([700, 650, 649.9, 600, 550, 500, 499.9, -5])) == [
        "A", "A", "B", "B", "C", "D", "E", "E",
    ]  # fmt: skip
    table = scale.bands()
    assert [b["band"] for b in table] == ["A", "B", "C", "D", "E"]
    assert (table[0]["min_points"], table[0]["max_points"]) == (650, None)
    assert table[1]["max_probability"] == pytest.approx(0.05)
    assert table[-1] == {"band": "E", "min_points": None, "max_points": 500, "max_probability": 1}


def test_a_custom_scale_round_trips_and_an_old_bundle_gets_the_defaults():
    scale = PointsScale(points=500, odds=50, pdo=20, cutoffs=(560, 520))
    assert PointsScale.from_dict(scale.to_dict()) == scale
    assert scale.labels == ("A", "B", "C")
    assert PointsScale.from_dict(None) == PointsScale()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cutoffs": (600, 650)}, "highest first"),
        ({"cutoffs": ()}, "highest first"),
        ({"pdo": 0}, "must be > 0"),
    ],
)
def test_a_bad_scale_is_refused_naming_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PointsScale(**kwargs)
