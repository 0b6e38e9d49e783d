"""Credit tables in other shapes than Home Credit's, to try `make train DATA=...` on and for the
tests: each with a known risk, so a model trained on a few hundred rows learns something.

    credit-scoring example-tables loans data/own/loans.csv --rows 5000
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _defaults(rng: np.random.Generator, log_odds: np.ndarray) -> np.ndarray:
    return rng.random(len(log_odds)) < 1 / (1 + np.exp(-log_odds))


def few_columns(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Three inputs, string ids ("L-00001") and a good/bad target."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8, 0.5, rows).round(2)
    age = rng.integers(18, 80, rows)
    purpose = rng.choice(["car", "home", "cash"], rows, p=[0.3, 0.3, 0.4])
    log_odds = -1.2 - 0.8 * (np.log(income) - 8) - 0.03 * (age - 45) + 1.0 * (purpose == "cash")
    # Thresholds and an interaction, as credit risk has: trees have something to find.
    log_odds += 1.0 * (age < 25) + 1.2 * ((purpose == "cash") & (income < 2500))
    return pd.DataFrame(
        {
            "loan_ref": [f"L-{i:05d}" for i in range(rows)],
            "income": income,
            "age": age,
            "purpose": purpose,
            "status": np.where(_defaults(rng, log_odds), "bad", "good"),
        }
    )


def many_categoricals(rows: int = 800, seed: int = 1) -> pd.DataFrame:
    """Integer ids, a 0/1 target, nine categorical inputs (a boolean among them), numbers with
    missing values, a share in [0, 1], and a free-text column to exclude."""
    rng = np.random.default_rng(seed)
    frame: dict[str, object] = {"customer_id": rng.permutation(rows) + 1000}
    log_odds = np.full(rows, -1.0)
    for k, levels in enumerate((3, 4, 5, 6, 8, 10, 12, 2)):
        values = rng.integers(0, levels, rows)
        frame[f"cat_{k}"] = [f"level_{v}" for v in values]
        log_odds += 0.25 * (values == 0) * (k % 3)
    has_guarantor = rng.random(rows) < 0.3
    frame["has_guarantor"] = has_guarantor
    log_odds -= 0.8 * has_guarantor
    utilisation = rng.random(rows)
    debt = rng.gamma(2, 5000, rows)
    log_odds += 2 * (utilisation - 0.5) + (debt - 10_000) / 10_000
    utilisation[rng.random(rows) < 0.2] = np.nan  # missing values
    debt[rng.random(rows) < 0.1] = np.nan
    frame |= {
        "utilisation": utilisation,
        "debt": debt,
        "notes": [f"called on day {i}" for i in range(rows)],
        "default": _defaults(rng, log_odds).astype(int),
    }
    return pd.DataFrame(frame)


TABLES = {"loans": few_columns, "customers": many_categoricals}


def write_example(table: str, path: Path, rows: int, seed: int) -> str:
    """Write one example table (.csv, or .parquet by its suffix) and say what was written."""
    if table not in TABLES:
        raise ValueError(f"table must be one of {sorted(TABLES)}, not {table!r}")
    frame = TABLES[table](rows, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return f"wrote {len(frame)} rows x {frame.shape[1]} columns to {path}"
