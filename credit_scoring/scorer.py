"""The scorer: model + decision threshold + input schema + explainer, as one plain object.

It is saved as a folder of plain files (LightGBM text model, JSON, Parquet), which is what the
BentoML model store holds; the service needs nothing else from disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from credit_scoring.cost import CostMatrix
from credit_scoring.features import build_features
from credit_scoring.schema import InputSchema

Decision = Literal["granted", "refused"]
MODEL_FILE, SCHEMA_FILE, META_FILE, REFERENCE_FILE = (
    "model.txt",
    "schema.json",
    "scorer.json",
    "reference.parquet",
)


class ModelBundleError(RuntimeError):
    """The model folder is missing or incomplete."""


@dataclass
class Explanation:
    probability: np.ndarray  # (n,)
    contributions: np.ndarray  # (n, n_features), log-odds
    base_value: np.ndarray  # (n,), log-odds: contributions.sum(1) + base_value = raw score
    features: pd.DataFrame  # the model's input rows


@dataclass
class Scorer:
    booster: lgb.Booster
    threshold: float
    schema: InputSchema
    costs: CostMatrix = field(default_factory=CostMatrix)
    metadata: dict[str, Any] = field(default_factory=dict)  # run id, metrics, data fingerprint
    reference: pd.DataFrame | None = None  # raw training rows (with target) for drift and UI

    @property
    def feature_names(self) -> list[str]:
        return self.booster.feature_name()

    def features(self, applications: pd.DataFrame) -> pd.DataFrame:
        return build_features(applications, self.schema)[self.feature_names]

    def predict_proba(self, applications: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.features(applications).to_numpy())

    def explain(self, applications: pd.DataFrame) -> Explanation:
        """Exact TreeSHAP contributions (LightGBM's own ``pred_contrib``) for a whole batch."""
        features = self.features(applications)
        contrib = self.booster.predict(features.to_numpy(), pred_contrib=True)
        contributions, base = contrib[:, :-1], contrib[:, -1]
        raw_score = contrib.sum(axis=1)
        return Explanation(1 / (1 + np.exp(-raw_score)), contributions, base, features)

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
        """Mean |SHAP contribution| per feature over the reference sample, largest first."""
        if self.reference is None:
            return {}
        mean = np.abs(self.explain(self.reference).contributions).mean(axis=0)
        return {self.feature_names[j]: float(mean[j]) for j in np.argsort(-mean, kind="stable")}

    def decide(self, probability: np.ndarray) -> list[Decision]:
        return ["refused" if p >= self.threshold else "granted" for p in probability]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / MODEL_FILE)
        (folder / SCHEMA_FILE).write_text(self.schema.to_json(), encoding="utf-8")
        meta = {
            "threshold": self.threshold,
            "costs": {"fn_cost": self.costs.fn_cost, "fp_cost": self.costs.fp_cost},
            **self.metadata,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=1, default=str), "utf-8")
        if self.reference is not None:
            self.reference.to_parquet(folder / REFERENCE_FILE, index=False)

    @classmethod
    def load(cls, folder: Path) -> Scorer:
        folder = Path(folder)
        missing = [f for f in (MODEL_FILE, SCHEMA_FILE, META_FILE) if not (folder / f).is_file()]
        if missing:
            raise ModelBundleError(f"model folder {folder} lacks {', '.join(missing)}")
        meta = json.loads((folder / META_FILE).read_text("utf-8"))
        reference_path = folder / REFERENCE_FILE
        return cls(
            booster=lgb.Booster(model_file=str(folder / MODEL_FILE)),
            threshold=float(meta.pop("threshold")),
            schema=InputSchema.from_json((folder / SCHEMA_FILE).read_text("utf-8")),
            costs=CostMatrix(**meta.pop("costs")),
            metadata=meta,
            reference=_read_parquet(reference_path) if reference_path.is_file() else None,
        )


def _read_parquet(path: Path) -> pd.DataFrame:
    """``pd.read_parquet`` left pyarrow threads that aborted ~8% of processes at exit here
    ("terminate called without an active exception", apache/arrow#34314); reading by path
    with pyarrow itself did not (0 of 40)."""
    return pq.read_table(str(path)).to_pandas()


def reference_applications(scorer: Scorer, client_ids: list[int]) -> pd.DataFrame:
    """The raw rows of clients in the reference sample shipped with the model (no target).

    Raises KeyError naming the ids that are not in the sample.
    """
    if scorer.reference is None:
        raise KeyError("this model was promoted without a reference sample")
    id_column = scorer.schema.id_column
    sample = scorer.reference.drop(columns=[scorer.schema.target_column], errors="ignore")
    sample = sample.set_index(id_column, drop=False)
    unknown = [i for i in client_ids if i not in sample.index]
    if unknown:
        raise KeyError(f"client ids not in the reference sample: {unknown[:10]}")
    return sample.loc[client_ids].reset_index(drop=True)
