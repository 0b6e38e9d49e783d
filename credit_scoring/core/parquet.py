"""Reading Parquet without the exit-time abort.

``pd.read_parquet`` left pyarrow threads that aborted ~8-12% of processes at exit here
("terminate called without an active exception", exit 134; apache/arrow#34314), after their
work was done: `make data` failed that way. Reading by path with pyarrow itself did not
(0 of 40 runs).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq


def read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    return pq.read_table(str(path), columns=columns).to_pandas()
