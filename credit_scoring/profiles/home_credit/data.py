"""Home Credit's training tables: the real Kaggle files when present, otherwise seeded
synthetic data.

Real data: ``<data_dir>/source/application_train.csv`` and, each optional, the six history
tables under their Kaggle names (``bureau.csv``, ``bureau_balance.csv``, ...). Synthetic data
is cached under ``<data_dir>/generated/<rows>-<seed>/`` as Parquet, with the true default
probability of every client kept apart from the tables (the model never sees it; training
reports the Bayes AUC from it). History tables are read lazily, one at a time, so a full-scale
run holds one of them in memory at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import pandas as pd

from credit_scoring.core.dataset import DataError, Dataset, TableFiles
from credit_scoring.core.parquet import read_parquet
from credit_scoring.core.settings import CoreSettings
from credit_scoring.profiles.home_credit import synthetic
from credit_scoring.profiles.home_credit.input_fields import home_credit_schema
from credit_scoring.profiles.home_credit.reference import ID_COLUMN, TARGET_COLUMN
from credit_scoring.profiles.home_credit.tables import HISTORY_TABLES, history_tables

Source = Literal["auto", "real", "synthetic"]
APPLICATION_FILE = "application_train.csv"
APPLICATION_TABLE = "application_train"


def _files(paths: dict[str, Path]) -> TableFiles:
    """The history tables found, with their specs (how their rows link)."""
    return TableFiles(paths, {name: history_tables()[name] for name in paths})


def _dataset(
    applications: pd.DataFrame,
    source: str,
    histories: TableFiles,
    true_probability: pd.Series | None = None,
) -> Dataset:
    return Dataset(
        applications,
        source,
        schema=home_credit_schema(),
        table_name=APPLICATION_TABLE,
        true_probability=true_probability,
        histories=histories,
    )


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
    """The application file, and every history table found beside it (each optional)."""
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path}: cannot be parsed as CSV ({error})") from error
    found = {n: path.parent / f"{n}.csv" for n in HISTORY_TABLES}
    histories = _files({n: p for n, p in found.items() if p.is_file()})
    return _dataset(_check(table, path), f"real: {path}", histories)


def _write_atomically(frame: pd.DataFrame, path: Path) -> None:
    # Temporary name, then rename: an interrupted run never leaves a half-written file.
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, index=False)
    os.replace(partial, path)


def load_synthetic(folder: Path, rows: int, seed: int) -> Dataset:
    """Generate once per (rows, seed); later calls read the cached files."""
    target = folder / f"{rows}-{seed}"
    table_path = target / f"{APPLICATION_TABLE}.parquet"
    risk_path = target / "true_risk.parquet"
    paths = {name: target / f"{name}.parquet" for name in HISTORY_TABLES}
    manifest = target / "manifest.json"
    if not manifest.is_file():  # written last: its presence means every file is complete
        target.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}

        def write(name: str, frame: pd.DataFrame) -> None:
            _write_atomically(frame, paths[name])
            counts[name] = len(frame)

        data = synthetic.generate(rows, seed, sink=write)  # one history table in memory at once
        _write_atomically(data.applications, table_path)
        _write_atomically(data.true_probability.to_frame(), risk_path)
        manifest.write_text(
            json.dumps(
                {"rows": rows, "seed": seed, "bayes_auc": data.bayes_auc, "table_rows": counts},
                indent=1,
            )
        )
    table = read_parquet(table_path)
    risk = read_parquet(risk_path)["probability"]
    return _dataset(table, f"synthetic: {rows} rows, seed {seed}", _files(paths), risk)


def load_dataset(settings: CoreSettings, source: Source, rows: int, seed: int) -> Dataset:
    real_path = settings.source_dir / APPLICATION_FILE
    if source == "real" or (source == "auto" and real_path.is_file()):
        if not real_path.is_file():
            raise DataError(f"{real_path} not found: put Kaggle's file there or use synthetic data")
        return read_real(real_path)
    return load_synthetic(settings.generated_dir, rows, seed)
