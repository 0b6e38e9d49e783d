"""A promoted bundle is checked before it is served: every file against the SHA-256 recorded
at promote (a changed, missing or added file is refused, naming it), the threshold and the
calibration against what scoring needs (a NaN threshold answered 500 on every call)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from credit_scoring.core.calibration import Calibration
from credit_scoring.core.models import FILES, LightGBMModel
from credit_scoring.core.scorer import (
    DIGESTS_FILE,
    META_FILE,
    ModelBundleError,
    Scorer,
    verify_digests,
    write_digests,
)

MODEL_FILE = FILES["lightgbm"]


@pytest.fixture
def bundle(schema, tmp_path) -> Path:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 3)), rng.random(200) < 0.3
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, y), 3)
    Scorer(LightGBMModel(booster), 0.2, schema).save(tmp_path)
    return tmp_path


def test_digests_recorded_at_promote_verify_and_name_the_bundle(bundle):
    digest = write_digests(bundle)
    assert verify_digests(bundle) == digest
    assert MODEL_FILE in json.loads((bundle / DIGESTS_FILE).read_text())


def test_a_changed_byte_is_refused_naming_the_file(bundle):
    write_digests(bundle)
    model = bundle / MODEL_FILE
    text = model.read_bytes()
    model.write_bytes(text[:-40] + bytes(b ^ 1 for b in text[-40:]))  # same length
    with pytest.raises(ModelBundleError, match=rf"{model}.*SHA-256 recorded at promote"):
        verify_digests(bundle)


def test_a_missing_or_added_file_is_refused(bundle):
    write_digests(bundle)
    (bundle / "extra.parquet").write_bytes(b"x")
    added = re.escape("not recorded at promote: ['extra.parquet']")
    with pytest.raises(ModelBundleError, match=added):
        verify_digests(bundle)
    (bundle / MODEL_FILE).unlink()
    with pytest.raises(ModelBundleError, match=f"{bundle / MODEL_FILE} is missing"):
        verify_digests(bundle)


def test_a_bundle_without_digests_says_retrain_and_promote(bundle):
    with pytest.raises(ModelBundleError, match="retrain and promote"):
        verify_digests(bundle)


def _edit_meta(bundle: Path, **fields: object) -> None:
    meta = json.loads((bundle / META_FILE).read_text())
    (bundle / META_FILE).write_text(json.dumps(meta | fields))


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), 0.0, 1.0, 1.5, "0.2", None])
def test_a_threshold_outside_0_1_is_refused_naming_file_and_field(bundle, threshold):
    _edit_meta(bundle, threshold=threshold)
    with pytest.raises(ModelBundleError, match=rf"{bundle / META_FILE}: field 'threshold'"):
        Scorer.load(bundle)


@pytest.mark.parametrize(
    ("calibration", "why"),
    [
        ({"method": "platt", "a": float("nan"), "b": 0.0}, "outside \\[0, 1\\] or NaN"),
        ({"method": "platt", "a": -1.0, "b": 0.0}, "not monotone"),
        ({"method": "isotonic", "x": [0.0, 1.0], "y": [0.0, 1.5]}, "outside \\[0, 1\\]"),
        ({"method": "isotonic", "x": [0.0, 1.0]}, "not a valid calibration"),
        ({"method": "magic"}, "not a valid calibration"),
    ],
)
def test_a_broken_calibration_is_refused(bundle, calibration, why):
    _edit_meta(bundle, calibration=calibration)
    with pytest.raises(ModelBundleError, match=rf"field 'calibration'.*{why}"):
        Scorer.load(bundle)


def test_a_valid_bundle_still_loads(bundle):
    _edit_meta(bundle, calibration=Calibration("platt", {"a": 0.7, "b": -0.4}).to_dict())
    assert Scorer.load(bundle).threshold == 0.2
