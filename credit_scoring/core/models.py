"""Model families the scorer can hold: LightGBM, a regularised logistic regression and a WoE
scorecard, behind one small protocol.

Every family works on the float matrix ``build_features`` gives (categories as their codes),
answers a raw score in log-odds of default and splits it into per-feature contributions that,
with the base value, add up to that raw score exactly (TreeSHAP for LightGBM, coefficient x
centred value for the two linear families). Each is saved as plain files (LightGBM's text
model, JSON tables) and applied by a few lines of NumPy, so serving needs no pickle and no
fitting library beyond LightGBM.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd

Family = Literal["lightgbm", "logistic", "scorecard"]
FAMILIES: tuple[Family, ...] = ("lightgbm", "logistic", "scorecard")
# One OpenMP thread per call: scoring calls are small batches, and with the cores busy (other
# workers, other requests) starting and syncing LightGBM's threads cost ~12 ms per call here,
# against 24 us (predict, 1 row) and 3 ms (contributions, 64 rows) with one thread. Throughput
# scales with service workers instead.
PREDICT_THREADS = 1
FILES: dict[Family, str] = {
    "lightgbm": "model.txt",
    "logistic": "logistic.json",
    "scorecard": "scorecard.json",
}
MIN_CATEGORY_ROWS = 20  # a one-hot column for a category seen at least this often
# Pre-bins per feature before optbinning's solver merges them: 10 instead of its 20 halves the
# binning time (~0.1 s per feature here, the scorecard's whole cost) for bins barely coarser.
SCORECARD_PREBINS = 10
CLIP_QUANTILE = 0.005  # numbers clipped to the training range's 0.5%..99.5% (income outliers)


class Model(Protocol):
    """What the scorer needs of a model, whatever its family."""

    family: Family

    @property
    def feature_names(self) -> list[str]: ...

    def raw_score(self, x: np.ndarray) -> np.ndarray:
        """Log-odds of default, one per row of the feature matrix."""
        ...

    def contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, features) contributions and (n,) base values in log-odds; their sum per row is
        ``raw_score``."""
        ...

    def save(self, folder: Path) -> None: ...


def dense(predicted: object) -> np.ndarray:
    """A LightGBM prediction as the array it is: ``Booster.predict`` is typed for sparse input
    too (a sparse matrix, or a list of them), but a dense input gives a dense array."""
    if not isinstance(predicted, np.ndarray):
        raise TypeError(f"expected a dense prediction, got {type(predicted).__name__}")
    return predicted


class LightGBMModel:
    family: Family = "lightgbm"

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        # Cached: LightGBM builds the list anew on each call (3% of a served request).
        self._names = booster.feature_name()

    @property
    def feature_names(self) -> list[str]:
        return self._names

    def raw_score(self, x: np.ndarray) -> np.ndarray:
        return dense(self.booster.predict(x, raw_score=True, num_threads=PREDICT_THREADS))

    def contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact TreeSHAP, LightGBM's own ``pred_contrib`` (the last column is the base)."""
        contrib = dense(self.booster.predict(x, pred_contrib=True, num_threads=PREDICT_THREADS))
        return contrib[:, :-1], contrib[:, -1]

    def save(self, folder: Path) -> None:
        self.booster.save_model(folder / FILES["lightgbm"])

    @classmethod
    def load(cls, folder: Path) -> LightGBMModel:
        return cls(lgb.Booster(model_file=str(folder / FILES["lightgbm"])))


@dataclass(frozen=True)
class Term:
    """One feature of a linear family, and how its value becomes a share of the log-odds.

    Three shapes: a number (``weight`` x the value clipped to [low, high], a missing one
    replaced by ``fill``, standardised by ``centre``/``scale``), a category (the weight of its
    code in ``codes``; 0 for a rare or unseen code) and bins (``steps[i]`` for a value in the
    i-th interval cut at ``bins``, as ``np.digitize`` counts them). A missing value adds (or,
    for categories and bins, is) ``missing``. ``mean`` is the term's mean over the training
    rows: a contribution is the term's distance from that of an average applicant."""

    name: str
    weight: float = 0.0
    low: float | None = None
    high: float | None = None
    fill: float = 0.0
    centre: float = 0.0
    scale: float = 1.0
    missing: float = 0.0
    codes: dict[str, float] | None = None
    bins: list[float] | None = None
    steps: list[float] | None = None
    mean: float = 0.0

    def value(self, column: np.ndarray) -> np.ndarray:
        """The term's share of the log-odds for each row (before centring)."""
        absent = np.isnan(column)
        if self.codes is not None:
            lookup = self.codes
            found = np.fromiter(
                (lookup.get(str(int(v)), 0.0) for v in np.where(absent, 0, column)),
                float,
                len(column),
            )
            return np.where(absent, self.missing, found)
        if self.bins is not None and self.steps is not None:
            steps = np.asarray(self.steps, float)
            found = steps[np.digitize(np.where(absent, 0, column), self.bins, right=False)]
            return np.where(absent, self.missing, found)
        clipped = np.clip(np.where(absent, self.fill, column), self.low, self.high)
        return self.weight * (clipped - self.centre) / self.scale + self.missing * absent


class LinearModel:
    """A sum of terms, one per feature, plus an intercept: the logistic regression and the
    scorecard (whose terms are WoE bins times the coefficient) are both applied this way."""

    def __init__(self, family: Family, terms: list[Term], intercept: float) -> None:
        self.family = family
        self.terms = terms
        self.intercept = intercept

    @property
    def feature_names(self) -> list[str]:
        return [t.name for t in self.terms]

    def contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = np.column_stack([t.value(x[:, j]) - t.mean for j, t in enumerate(self.terms)])
        base = self.intercept + sum(t.mean for t in self.terms)
        return values, np.full(len(x), base)

    def raw_score(self, x: np.ndarray) -> np.ndarray:
        contributions, base = self.contributions(x)
        return contributions.sum(axis=1) + base

    def save(self, folder: Path) -> None:
        table = {"intercept": self.intercept, "terms": [asdict(t) for t in self.terms]}
        (folder / FILES[self.family]).write_text(json.dumps(table, indent=1), "utf-8")

    @classmethod
    def load(cls, family: Family, folder: Path) -> LinearModel:
        table = json.loads((folder / FILES[family]).read_text("utf-8"))
        terms = [Term(**t) for t in table["terms"]]
        return cls(family, terms, float(table["intercept"]))

    def with_means(self, x: np.ndarray) -> LinearModel:
        """The same model with each term's training mean recorded (for centring)."""
        terms = [
            Term(**{**asdict(t), "mean": float(np.mean(t.value(x[:, j])))})
            for j, t in enumerate(self.terms)
        ]
        return LinearModel(self.family, terms, self.intercept)


def load_model(family: str, folder: Path) -> Model:
    """The model saved in ``folder`` by its family's ``save``."""
    if family == "lightgbm":
        return LightGBMModel.load(folder)
    if family in ("logistic", "scorecard"):
        return LinearModel.load(family, folder)  # type: ignore[arg-type]
    raise ValueError(f"unknown model family {family!r}")


# ---- fitting the linear families -----------------------------------------------------------


def _numeric_design(column: np.ndarray) -> tuple[Term, np.ndarray]:
    """A numeric feature's term (weights still 0) and its design columns: the standardised,
    clipped, median-filled value, and a missing flag when training had missing values."""
    observed = column[~np.isnan(column)]
    if not len(observed):
        return Term("", low=0.0, high=0.0), np.zeros((len(column), 0))
    low, high = np.quantile(observed, [CLIP_QUANTILE, 1 - CLIP_QUANTILE])
    fill = float(np.median(observed))
    filled = np.clip(np.where(np.isnan(column), fill, column), low, high)
    centre, scale = float(filled.mean()), float(filled.std()) or 1.0
    term = Term("", low=float(low), high=float(high), fill=fill, centre=centre, scale=scale)
    columns = [(filled - centre) / scale]
    if np.isnan(column).any():
        columns.append(np.isnan(column).astype(float))
    return term, np.column_stack(columns)


def _categorical_design(column: np.ndarray) -> tuple[list[str], np.ndarray]:
    """One-hot columns of the codes seen at least ``MIN_CATEGORY_ROWS`` times, and a missing
    flag when training had missing values; rare codes are the reference level."""
    codes, counts = np.unique(column[~np.isnan(column)], return_counts=True)
    kept = [c for c, n in zip(codes, counts, strict=True) if n >= MIN_CATEGORY_ROWS]
    columns = [(column == c).astype(float) for c in kept]
    labels = [str(int(c)) for c in kept]
    if np.isnan(column).any():
        columns.append(np.isnan(column).astype(float))
        labels.append("missing")
    design = np.column_stack(columns) if columns else np.zeros((len(column), 0))
    return labels, design


@dataclass
class LogisticDesign:
    """The logistic family's design matrix for a feature frame, and how to read its weights
    back into one term per feature."""

    matrix: np.ndarray
    terms: list[Term]
    slots: list[list[str]]  # per feature: the role of each of its design columns

    @classmethod
    def of(cls, x: pd.DataFrame, categorical: list[str]) -> LogisticDesign:
        blocks, terms, slots = [], [], []
        for name in x.columns:
            column = x[name].to_numpy(float)
            if name in categorical:
                labels, block = _categorical_design(column)
                terms.append(Term(name, codes={}))
                slots.append(labels)
            else:
                term, block = _numeric_design(column)
                terms.append(Term(**{**asdict(term), "name": name}))
                slots.append(["value", "missing"][: block.shape[1]])
            blocks.append(block)
        return cls(np.column_stack(blocks), terms, slots)

    def model(self, coefficients: np.ndarray, intercept: float, x: np.ndarray) -> LinearModel:
        """The fitted weights as terms, with their training means for centring."""
        terms, k = [], 0
        for term, slots in zip(self.terms, self.slots, strict=True):
            weights = dict(zip(slots, coefficients[k : k + len(slots)], strict=True))
            k += len(slots)
            missing = float(weights.pop("missing", 0.0))
            if term.codes is not None:
                codes = {label: float(w) for label, w in weights.items()}
                terms.append(Term(term.name, codes=codes, missing=missing))
            else:
                weight = float(weights.get("value", 0.0))
                terms.append(Term(**{**asdict(term), "weight": weight, "missing": missing}))
        return LinearModel("logistic", terms, intercept).with_means(x)


def fit_logistic(x: pd.DataFrame, y: np.ndarray, categorical: list[str], c: float) -> LinearModel:
    """L2-regularised logistic regression on standardised numbers (clipped, median-filled,
    with a missing flag) and one-hot categories (with a missing flag)."""
    from sklearn.linear_model import LogisticRegression

    design = LogisticDesign.of(x, categorical)
    fitted = LogisticRegression(C=c, max_iter=500).fit(design.matrix, y)
    return design.model(fitted.coef_[0], float(fitted.intercept_[0]), x.to_numpy(float))


def fit_scorecard(
    x: pd.DataFrame,
    y: np.ndarray,
    categorical: list[str],
    monotone: Mapping[str, str] | None = None,
) -> LinearModel:
    """optbinning's ``BinningProcess`` + ``Scorecard``: optimal bins per feature (a monotonic
    trend where the data supports one, the declared one where the schema declares it), their
    WoE, a logistic regression on the WoE. Stored as each feature's bins x coefficient, so it
    is applied without optbinning; a missing value gets its bin's empirical WoE."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    trends = {"increasing": "ascending", "decreasing": "descending"}
    fit_params = {name: {"monotonic_trend": trends[d]} for name, d in (monotone or {}).items()}
    process = BinningProcess(
        list(x.columns),
        categorical_variables=[c for c in categorical if c in x.columns],
        max_n_prebins=SCORECARD_PREBINS,
        binning_fit_params=fit_params or None,
    )
    card = Scorecard(binning_process=process, estimator=LogisticRegression(C=1.0, max_iter=500))
    card.fit(x, y, metric_missing="empirical")
    coefficients = dict(zip(x.columns, card.estimator_.coef_[0], strict=True))
    binned = card.binning_process_.get_binned_variable
    terms = [_scorecard_term(n, binned(n), coefficients[n], x[n]) for n in x.columns]
    intercept = float(card.estimator_.intercept_[0])
    return LinearModel("scorecard", terms, intercept).with_means(x.to_numpy(float))


def _scorecard_term(name: str, binned: Any, coefficient: float, column: pd.Series) -> Term:
    """A feature's bins as a term: numeric bins as WoE steps at the split points (stored as
    codes of their left edges), categorical bins as the WoE of each code seen in training."""

    def woe(values: np.ndarray) -> np.ndarray:
        woe = binned.transform(values, metric="woe", metric_missing="empirical")
        return np.asarray(woe, float)

    missing = float(coefficient * woe(np.array([np.nan]))[0])
    if binned.dtype == "categorical":
        seen = np.unique(column.dropna().to_numpy(float))
        weights = coefficient * woe(seen)
        codes = {str(int(c)): float(w) for c, w in zip(seen, weights, strict=True)}
        return Term(name, codes=codes, missing=missing)
    splits = np.asarray(binned.splits, float)
    # One value inside each bin: below the first split, then each split point itself.
    steps = coefficient * woe(np.concatenate([[-np.inf], splits]))
    return Term(name, missing=missing, bins=splits.tolist(), steps=steps.tolist())
