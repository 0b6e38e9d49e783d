"""A training dataset, whatever its profile: the application table, its schema, and the
history tables as files read on demand."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from credit_scoring.core.parquet import read_parquet
from credit_scoring.core.schema import InputSchema
from credit_scoring.core.tables import HistoryTable, client_rows


class DataError(ValueError):
    """The training data cannot be used as it is; the message says why and where."""


class TableFiles(Mapping[str, pd.DataFrame]):
    """History tables by name, each read from its file when asked for (and not kept), so a
    full-scale run holds one of them in memory at once."""

    def __init__(
        self, paths: dict[str, Path], tables: Mapping[str, HistoryTable] | None = None
    ) -> None:
        self.paths = paths
        self.tables = tables or {}  # the specs of these tables: how their rows link

    def __getitem__(self, name: str) -> pd.DataFrame:
        path = self.paths[name]
        if path.suffix == ".parquet":
            return read_parquet(path)
        try:
            return pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
            raise DataError(f"{path}: cannot be parsed as CSV ({error})") from error

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def rows_of(self, client_ids: pd.Series) -> dict[str, pd.DataFrame]:
        """Every table's rows for these clients (a child table's through its parent's)."""
        return client_rows(self, client_ids.tolist(), self.tables)


@dataclass
class Dataset:
    applications: pd.DataFrame
    source: str  # "real: <folder>", "synthetic: <rows> rows, seed <seed>" or "file: <path>"
    schema: InputSchema  # the raw input fields: a profile's, or inferred from a user's file
    table_name: str  # the application table's name, in the fingerprint's row counts
    true_probability: pd.Series | None = None  # synthetic data only
    histories: TableFiles = field(default_factory=lambda: TableFiles({}))

    def fingerprint(self) -> dict[str, object]:
        """Row counts and a hash of every file read: which data a model was trained on."""
        digest = hashlib.sha256(
            pd.util.hash_pandas_object(self.applications, index=False).to_numpy().tobytes()
        )
        rows = {self.table_name: len(self.applications)}
        for name, path in sorted(self.histories.paths.items()):
            with path.open("rb") as handle:
                for block in iter(partial(handle.read, 1 << 24), b""):
                    digest.update(block)
            rows[name] = _row_count(path)
        return {"rows": rows, "sha256_16": digest.hexdigest()[:16], "source": self.source}


def _row_count(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(partial(handle.read, 1 << 24), b"")) - 1
