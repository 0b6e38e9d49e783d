"""The scorer: model + decision threshold + input schema + explainer, as one plain object.

It is saved as a folder of plain files (LightGBM text model, JSON, Parquet), which is what the
BentoML model store holds; the service needs nothing else from disk. The calibration (raw
log-odds -> reported probability) is plain JSON in ``scorer.json``; the reference clients'
history rows are ``reference_<table>.parquet`` files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from credit_scoring.core.calibration import Calibration
from credit_scoring.core.cost import CostMatrix
from credit_scoring.core.features import build_features
from credit_scoring.core.models import FILES, Model, load_model
from credit_scoring.core.parquet import read_parquet
from credit_scoring.core.profile import get_profile
from credit_scoring.core.schema import InputSchema, ModelBundleError
from credit_scoring.core.tables import Histories, client_rows

Decision = Literal["granted", "refused"]
SCHEMA_FILE, META_FILE, REFERENCE_FILE = ("schema.json", "scorer.json", "reference.parquet")
REFERENCE_TABLE_FILE = "reference_{}.parquet"


@dataclass
class Explanation:
    probability: np.ndarray  # (n,), calibrated
    contributions: np.ndarray  # (n, n_features), log-odds
    base_value: np.ndarray  # (n,), log-odds: contributions.sum(1) + base_value = raw score
    features: pd.DataFrame  # the model's input rows


@dataclass
class Scorer:
    model: Model  # any family of core.models
    threshold: float
    schema: InputSchema
    costs: CostMatrix = field(default_factory=CostMatrix)
    metadata: dict[str, Any] = field(default_factory=dict)  # run id, metrics, data fingerprint
    reference: pd.DataFrame | None = None  # raw training rows (with target) for drift and UI
    calibration: Calibration = field(default_factory=Calibration)  # raw log-odds -> probability
    # The reference clients' rows in the history tables (table name -> rows), for drift
    # reports and for scoring a reference client by id.
    reference_histories: dict[str, pd.DataFrame] | None = None

    @property
    def feature_names(self) -> list[str]:
        return self.model.feature_names

    def features(
        self, applications: pd.DataFrame, histories: Histories | None = None
    ) -> pd.DataFrame:
        return build_features(applications, self.schema, histories)[self.feature_names]

    def raw_score(
        self, applications: pd.DataFrame, histories: Histories | None = None
    ) -> np.ndarray:
        """The model's log-odds of default, before calibration."""
        return self.model.raw_score(self.features(applications, histories).to_numpy())

    def predict_proba(
        self, applications: pd.DataFrame, histories: Histories | None = None
    ) -> np.ndarray:
        """Calibrated probability of default; ``histories`` as in ``build_features``."""
        return self.calibration.apply(self.raw_score(applications, histories))

    def explain(
        self, applications: pd.DataFrame, histories: Histories | None = None
    ) -> Explanation:
        """Exact contributions for a whole batch (TreeSHAP for LightGBM, coefficient x centred
        value for the linear families).

        Contributions and base value add up to the raw log-odds; the probability is the
        calibrated one, as in ``predict_proba``.
        """
        features = self.features(applications, histories)
        contributions, base = self.model.contributions(features.to_numpy())
        raw_score = contributions.sum(axis=1) + base
        return Explanation(self.calibration.apply(raw_score), contributions, base, features)

    def reference_rows(
        self, client_ids: list[int] | list[str] | list[int | str]
    ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        """Reference clients' applications (in the order asked, without the target) and their
        history rows, ready to score by id. Raises KeyError naming the unknown ids."""
        if self.reference is None:
            raise KeyError("this model was promoted without a reference sample")
        sample = self.reference.drop(columns=[self.schema.target_column], errors="ignore")
        sample = sample.set_index(self.schema.id_column, drop=False)
        unknown = [i for i in client_ids if i not in sample.index]
        if unknown:
            raise KeyError(f"client ids not in the reference sample: {unknown[:10]}")
        applications = sample.loc[client_ids].reset_index(drop=True)
        tables = get_profile(self.schema.profile).tables
        histories = client_rows(self.reference_histories or {}, client_ids, tables)
        return applications, histories

    def readable_value(self, feature: str, value: float) -> float | str | None:
        """A model input as a credit officer reads it: category codes back to their labels."""
        if np.isnan(value):
            return None
        if feature in self._categories:
            return self._categories[feature][int(value)]
        return float(value)

    @property
    def _categories(self) -> dict[str, tuple[str, ...]]:
        return {spec.name: spec.categories for spec in self.schema.categorical}

    def reasons(self, explanation: Explanation, row: int, top: int | None = None) -> list[dict]:
        """Features of one applicant ordered by |contribution|, the largest first."""
        contributions = explanation.contributions[row]
        values = explanation.features.iloc[row].to_numpy()
        order = np.argsort(-np.abs(contributions), kind="stable")[:top]
        names = self.feature_names
        return [
            {
                "feature": names[j],
                "value": self.readable_value(names[j], values[j]),
                "contribution": float(contributions[j]),
            }
            for j in order
        ]

    def global_importance(self) -> dict[str, float]:
        """Mean |contribution| per feature over the reference sample, largest first."""
        if self.reference is None:
            return {}
        explanation = self.explain(self.reference, self.reference_histories)
        mean = np.abs(explanation.contributions).mean(axis=0)
        return {self.feature_names[j]: float(mean[j]) for j in np.argsort(-mean, kind="stable")}

    def decide(self, probability: np.ndarray) -> list[Decision]:
        return ["refused" if p >= self.threshold else "granted" for p in probability]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder)
        (folder / SCHEMA_FILE).write_text(self.schema.to_json(), encoding="utf-8")
        meta = {
            "threshold": self.threshold,
            "family": self.model.family,
            "costs": {"fn_cost": self.costs.fn_cost, "fp_cost": self.costs.fp_cost},
            "calibration": self.calibration.to_dict(),
            **self.metadata,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=1, default=str), "utf-8")
        if self.reference is not None:
            self.reference.to_parquet(folder / REFERENCE_FILE, index=False)
        for name, table in (self.reference_histories or {}).items():
            table.to_parquet(folder / REFERENCE_TABLE_FILE.format(name), index=False)

    @classmethod
    def load(cls, folder: Path) -> Scorer:
        folder = Path(folder)
        if not (folder / META_FILE).is_file():
            raise ModelBundleError(f"model folder {folder} lacks {META_FILE}")
        meta = json.loads((folder / META_FILE).read_text("utf-8"))
        # Bundles saved before families existed hold a LightGBM model.
        family = meta.pop("family", "lightgbm")
        if family not in FILES:
            raise ModelBundleError(
                f"model folder {folder} holds a {family!r} model, which this version cannot "
                "serve: retrain and promote the model"
            )
        missing = [f for f in (FILES[family], SCHEMA_FILE) if not (folder / f).is_file()]
        if missing:
            raise ModelBundleError(f"model folder {folder} lacks {', '.join(missing)}")
        reference_path = folder / REFERENCE_FILE
        schema = InputSchema.from_json((folder / SCHEMA_FILE).read_text("utf-8"))
        tables = {n: folder / REFERENCE_TABLE_FILE.format(n) for n in schema.tables}
        reference_histories = {n: read_parquet(p) for n, p in tables.items() if p.is_file()}
        return cls(
            model=load_model(family, folder),
            threshold=float(meta.pop("threshold")),
            schema=schema,
            costs=CostMatrix(**meta.pop("costs")),
            calibration=Calibration.from_dict(meta.pop("calibration", None)),
            metadata=meta,
            reference=read_parquet(reference_path) if reference_path.is_file() else None,
            reference_histories=reference_histories or None,
        )
