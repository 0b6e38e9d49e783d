"""The training table: the real Kaggle file when present, otherwise seeded synthetic data.

Real data: ``<data_dir>/source/application_train.csv``. Synthetic data is cached under
``<data_dir>/generated/<rows>-<seed>/`` with the true default probability of every client
kept apart from the table (the model never sees it; training reports the Bayes AUC from it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from credit_scoring.reference import ID_COLUMN, TARGET_COLUMN
from credit_scoring.settings import Settings
from training import synthetic

Source = Literal["auto", "real", "synthetic"]
APPLICATION_FILE = "application_train.csv"


class DataError(ValueError):
    """The training data cannot be used as it is; the message says why and where."""


@dataclass
class Dataset:
    applications: pd.DataFrame
    source: str  # "real: <path>" or "synthetic: <rows> rows, seed <seed>"
    true_probability: pd.Series | None = None  # synthetic data only


def _check(table: pd.DataFrame, origin: Path) -> pd.DataFrame:
    problems = [f"missing column {c}" for c in (ID_COLUMN, TARGET_COLUMN) if c not in table]
    if not problems:
        if table[ID_COLUMN].duplicated().any():
            problems.append(f"{ID_COLUMN} has duplicate values")
        values = set(table[TARGET_COLUMN].dropna().unique())
        if not values <= {0, 1} or len(values) != 2:
            problems.append(f"{TARGET_COLUMN} must hold both 0 and 1, found {sorted(values)}")
    if problems:
        raise DataError(f"{origin}: " + "; ".join(problems))
    return table.reset_index(drop=True)


def read_real(path: Path) -> Dataset:
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path}: cannot be parsed as CSV ({error})") from error
    return Dataset(_check(table, path), source=f"real: {path}")


def load_synthetic(folder: Path, rows: int, seed: int) -> Dataset:
    """Generate once per (rows, seed); later calls read the cached files."""
    target = folder / f"{rows}-{seed}"
    table_path, risk_path = target / "application_train.parquet", target / "true_risk.parquet"
    if not (table_path.is_file() and risk_path.is_file()):
        data = synthetic.generate(rows, seed)
        target.mkdir(parents=True, exist_ok=True)
        # Write to temporary names, then rename: an interrupted run never leaves a half file.
        for frame, path in (
            (data.applications, table_path),
            (data.true_probability.to_frame(), risk_path),
        ):
            partial = path.with_suffix(".partial")
            frame.to_parquet(partial, index=False)
            os.replace(partial, path)
        (target / "manifest.json").write_text(
            json.dumps({"rows": rows, "seed": seed, "bayes_auc": data.bayes_auc}, indent=1)
        )
    table = pd.read_parquet(table_path)
    risk = pd.read_parquet(risk_path)["probability"]
    return Dataset(table, f"synthetic: {rows} rows, seed {seed}", risk)


def load_dataset(settings: Settings, source: Source, rows: int, seed: int) -> Dataset:
    real_path = settings.source_dir / APPLICATION_FILE
    if source == "real" or (source == "auto" and real_path.is_file()):
        if not real_path.is_file():
            raise DataError(f"{real_path} not found: put Kaggle's file there or use synthetic data")
        return read_real(real_path)
    return load_synthetic(settings.generated_dir, rows, seed)
