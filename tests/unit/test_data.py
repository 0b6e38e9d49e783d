"""Loading training data: real files are checked, synthetic files are cached and atomic."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from credit_scoring.core.dataset import DataError
from credit_scoring.core.settings import CoreSettings
from credit_scoring.profiles.home_credit.data import (
    load_dataset,
    load_synthetic,
    read_real,
)
from credit_scoring.profiles.home_credit.tables import HISTORY_TABLES, history_tables

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_real_file_with_duplicate_ids_is_refused(tmp_path):
    path = write(tmp_path / "a.csv", "SK_ID_CURR,TARGET,AMT_CREDIT\n1,0,10\n1,1,20\n")
    with pytest.raises(DataError, match="SK_ID_CURR has duplicate values"):
        read_real(path)


def test_real_file_needs_a_binary_target(tmp_path):
    path = write(tmp_path / "a.csv", "SK_ID_CURR,TARGET\n1,0\n2,2\n")
    with pytest.raises(DataError, match="TARGET must hold both 0 and 1"):
        read_real(path)
    path = write(tmp_path / "b.csv", "SK_ID_CURR,AMT_CREDIT\n1,0\n")
    with pytest.raises(DataError, match="missing column TARGET"):
        read_real(path)


def test_corrupt_real_file_is_named(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b'SK_ID_CURR,TARGET\n1,0\n2,"1\n')
    with pytest.raises(DataError, match=re.escape(str(path))):
        read_real(path)


def test_real_file_is_preferred_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path))
    (tmp_path / "source").mkdir()
    write(tmp_path / "source" / "application_train.csv", "SK_ID_CURR,TARGET\n1,0\n2,1\n")
    dataset = load_dataset(CoreSettings(), "auto", rows=100, seed=0)
    assert dataset.source.startswith("real") and len(dataset.applications) == 2
    assert dataset.true_probability is None
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(DataError, match="not found"):
        load_dataset(CoreSettings(), "real", rows=100, seed=0)


def test_synthetic_data_is_generated_once_and_reread(tmp_path):
    first = load_synthetic(tmp_path, rows=300, seed=5)
    files = sorted(p.name for p in (tmp_path / "300-5").iterdir())
    tables = sorted(f"{name}.parquet" for name in HISTORY_TABLES)
    assert files == sorted(
        ["application_train.parquet", "manifest.json", "true_risk.parquet", *tables]
    )
    stamp = (tmp_path / "300-5" / "application_train.parquet").stat().st_mtime_ns
    second = load_synthetic(tmp_path, rows=300, seed=5)
    assert (tmp_path / "300-5" / "application_train.parquet").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(first.applications, second.applications)
    pd.testing.assert_series_equal(first.true_probability, second.true_probability)
    for name in HISTORY_TABLES:  # read back with the types of the real files
        table = second.histories[name]
        assert list(table.columns) == list(history_tables()[name].columns), name


def test_real_history_tables_are_optional_and_read_lazily(tmp_path):
    write(tmp_path / "application_train.csv", "SK_ID_CURR,TARGET\n1,0\n2,1\n")
    write(tmp_path / "bureau.csv", "SK_ID_CURR,SK_ID_BUREAU,CREDIT_ACTIVE\n1,10,Active\n")
    dataset = read_real(tmp_path / "application_train.csv")
    assert list(dataset.histories) == ["bureau"]  # the others are simply absent
    assert dataset.histories["bureau"]["SK_ID_BUREAU"].tolist() == [10]
    fingerprint = dataset.fingerprint()
    assert fingerprint["rows"] == {"application_train": 2, "bureau": 1}


def test_service_requirements_pin_the_locked_versions():
    """The Bento installs serving/requirements.txt: it must not drift from the lock."""
    pins = dict(
        re.findall(r"^([a-z0-9_.-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M)
    )
    for line in (ROOT / "credit_scoring" / "serving" / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert pins[name] == version, name
