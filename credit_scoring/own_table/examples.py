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


SUB_GRADES = [f"{grade}{step}" for grade in "ABCDEFG" for step in range(1, 6)]  # A1 < ... < G5
EMP_LENGTHS = ["< 1 year", *(f"{n} year{'s' * (n > 1)}" for n in range(1, 10)), "10+ years"]


def _region(rng: np.random.Generator, rows: int, levels: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """A 50-level region with thin levels (Zipf-like shares: the last ones hold a handful of
    loans) and a small risk of its own per level: (labels, log-odds effect)."""
    share = 1 / np.arange(1, levels + 1) ** 1.1
    codes = rng.choice(levels, rows, p=share / share.sum())
    effect = rng.normal(0, 0.25, levels)
    return np.array([f"R{c:02d}" for c in codes], dtype=object), effect[codes]


def _calibrated(log_odds: np.ndarray, bad_rate: float) -> np.ndarray:
    """Shift log-odds so the expected bad rate is ``bad_rate`` (bisection on the intercept)."""
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(log_odds + middle)))) > bad_rate:
            high = middle
        else:
            low = middle
    return log_odds + (low + high) / 2


def lending(rows: int = 8000, seed: int = 2) -> pd.DataFrame:
    """A small lending book as credit teams have one: ~5% bad, an ordinal grade (A1..G5) and
    employment length, a 50-level region with thin levels, the application date, and a risk
    that is almost additive and monotone in each input, so a regularised logistic regression
    is near the best any model can do (the case where default LightGBM settings overfit)."""
    rng = np.random.default_rng(seed)
    grade = np.clip(rng.gamma(2.2, 4.0, rows).astype(int), 0, len(SUB_GRADES) - 1)
    emp = rng.integers(0, len(EMP_LENGTHS), rows)
    income = rng.gamma(4, 15_000, rows).round(-2)
    dti = np.clip(rng.normal(0.18, 0.08, rows), 0, 0.6).round(3)
    utilisation = rng.beta(2, 3, rows).round(3)
    term = rng.choice(["36 months", "60 months"], rows, p=[0.75, 0.25])
    region, region_risk = _region(rng, rows)
    log_odds = (
        0.09 * grade
        - 0.06 * emp
        - 0.9 * (income - 60_000) / 30_000
        + 3.0 * dti
        + 1.2 * utilisation
        + 0.45 * (term == "60 months")
        + region_risk
    )
    utilisation[rng.random(rows) < 0.05] = np.nan
    # Three years of applications, so the book can be validated out of time (date_column).
    issued = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, rows), "D")
    return pd.DataFrame(
        {
            "loan_id": np.arange(1, rows + 1),
            "issue_d": issued.strftime("%Y-%m-%d"),
            "sub_grade": np.array(SUB_GRADES)[grade],
            "emp_length": np.array(EMP_LENGTHS)[emp],
            "annual_income": income,
            "dti": dti,
            "revol_util": utilisation,
            "term": term,
            "region": region,
            "bad": _defaults(rng, _calibrated(log_odds, 0.05)).astype(int),
        }
    )


def interactions(rows: int = 8000, seed: int = 3) -> pd.DataFrame:
    """A small book (~6% bad) whose risk lives in interactions and thresholds, where trees
    must beat a logistic regression: high utilisation is risky only with recent late
    payments, young applicants only on low incomes, and a short job only with a high burden."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 75, rows)
    income = rng.gamma(3, 12_000, rows).round(-2)
    utilisation = rng.random(rows).round(3)
    late_payments = rng.poisson(0.6, rows)
    months_employed = rng.integers(0, 240, rows)
    burden = np.clip(rng.normal(0.3, 0.12, rows), 0, 1).round(3)
    channel = rng.choice(["branch", "broker", "online"], rows, p=[0.4, 0.3, 0.3])
    log_odds = (
        2.2 * ((utilisation > 0.75) & (late_payments >= 1))
        + 1.8 * ((age < 27) & (income < 25_000))
        + 1.6 * ((months_employed < 12) & (burden > 0.4))
        + 1.0 * ((channel == "broker") & (utilisation > 0.5))
        - 1.2 * ((late_payments == 0) & (utilisation < 0.3))
    )
    return pd.DataFrame(
        {
            "application_id": [f"A{i:06d}" for i in range(rows)],
            "age": age,
            "income": income,
            "utilisation": utilisation,
            "late_payments": late_payments,
            "months_employed": months_employed,
            "burden": burden,
            "channel": channel,
            "default": _defaults(rng, _calibrated(log_odds, 0.06)).astype(int),
        }
    )


TABLES = {
    "loans": few_columns,
    "customers": many_categoricals,
    "lending": lending,
    "interactions": interactions,
}


def write_example(table: str, path: Path, rows: int | None, seed: int | None = None) -> str:
    """Write one example table (.csv, or .parquet by its suffix) and say what was written;
    ``rows`` and ``seed`` default to the table's own."""
    if table not in TABLES:
        raise ValueError(f"table must be one of {sorted(TABLES)}, not {table!r}")
    options = {"rows": rows, "seed": seed}
    frame = TABLES[table](**{k: v for k, v in options.items() if v is not None})
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return f"wrote {len(frame)} rows x {frame.shape[1]} columns to {path}"
