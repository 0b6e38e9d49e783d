"""The scorer: model + decision threshold + input schema + explainer, as one plain object.

It is saved as a folder of plain files (LightGBM text model, JSON, Parquet), which is what the
BentoML model store holds; the service needs nothing else from disk. The calibration (raw
log-odds -> reported probability) is plain JSON in ``scorer.json``; the reference clients'
history rows are ``reference_<table>.parquet`` files.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from credit_scoring.core.calibration import Calibration
from credit_scoring.core.cost import CostMatrix
from credit_scoring.core.features import build_features
from credit_scoring.core.models import FILES, Model, load_model
from credit_scoring.core.parquet import read_parquet
from credit_scoring.core.points import PointsScale
from credit_scoring.core.profile import get_profile
from credit_scoring.core.reasons import (
    Reason,
    ReasonSpec,
    adverse_reasons,
    catalogue,
    citable,
    protected_fields,
    reference_values,
)
from credit_scoring.core.schema import InputSchema, ModelBundleError
from credit_scoring.core.tables import Histories, client_rows

Decision = Literal["granted", "refused"]
SCHEMA_FILE, META_FILE, REFERENCE_FILE = ("schema.json", "scorer.json", "reference.parquet")
REFERENCE_TABLE_FILE = "reference_{}.parquet"
# The model card (pipeline.model_card writes it, the service serves it at GET /model_card).
CARD_MD, CARD_HTML = "model_card.md", "model_card.html"
# SHA-256 of every file of a promoted bundle, written at promote and checked before loading.
DIGESTS_FILE = "digests.json"
STORE_FILES = frozenset({DIGESTS_FILE, "model.yaml"})  # the manifest and BentoML's own file
# Raw log-odds a calibration is checked on at load: far beyond any model's scores.
CALIBRATION_PROBE = np.linspace(-30.0, 30.0, 121)


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _bundle_files(folder: Path) -> list[str]:
    """The bundle's files (relative paths, sorted), the manifest and BentoML's file left out."""
    files = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(f for f in files if f not in STORE_FILES)


def write_digests(folder: Path) -> str:
    """Record the SHA-256 of every file of the bundle in ``digests.json``; the manifest's own
    SHA-256 (one digest that names the whole bundle) is returned."""
    folder = Path(folder)
    digests = {name: _sha256(folder / name) for name in _bundle_files(folder)}
    (folder / DIGESTS_FILE).write_text(json.dumps(digests, indent=1, sort_keys=True), "utf-8")
    return _sha256(folder / DIGESTS_FILE)


def verify_digests(folder: Path) -> str:
    """Check every file of the bundle against the digests recorded at promote; the bundle's
    digest when all match. A changed, missing or added file raises ``ModelBundleError``
    naming it: a tampered or damaged model is never served."""
    folder = Path(folder)
    manifest = folder / DIGESTS_FILE
    if not manifest.is_file():
        raise ModelBundleError(
            f"model folder {folder} has no {DIGESTS_FILE} (promoted before digests were "
            "recorded, or not by `credit-scoring promote`): retrain and promote"
        )
    recorded: dict[str, str] = json.loads(manifest.read_text("utf-8"))
    for name, digest in recorded.items():
        if not (folder / name).is_file():
            raise ModelBundleError(f"model file {folder / name} is missing ({DIGESTS_FILE})")
        if _sha256(folder / name) != digest:
            raise ModelBundleError(
                f"model file {folder / name} does not match its SHA-256 recorded at promote "
                f"({DIGESTS_FILE}): the bundle was changed; promote it again"
            )
    added = sorted(set(_bundle_files(folder)) - set(recorded))
    if added:
        raise ModelBundleError(
            f"model folder {folder} holds files not recorded at promote: {added}"
        )
    return _sha256(manifest)


def _checked_threshold(meta: dict[str, Any], folder: Path) -> float:
    threshold = meta.pop("threshold", None)
    valid = isinstance(threshold, int | float) and math.isfinite(threshold) and 0 < threshold < 1
    if not valid:
        raise ModelBundleError(
            f"{folder / META_FILE}: field 'threshold' must be a finite number in (0, 1), "
            f"got {threshold!r}"
        )
    return float(threshold)


def _checked_calibration(raw: dict[str, Any] | None, folder: Path) -> Calibration:
    """The calibration, refused unless it maps every raw score to a probability in [0, 1]
    without reversing the ranking (a damaged one would answer NaN or nonsense on every call)."""
    where = f"{folder / META_FILE}: field 'calibration'"
    try:
        calibration = Calibration.from_dict(raw)
        probability = calibration.apply(CALIBRATION_PROBE)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelBundleError(f"{where} is not a valid calibration: {error!r}") from error
    if not np.isfinite(probability).all() or probability.min() < 0 or probability.max() > 1:
        raise ModelBundleError(f"{where} gives probabilities outside [0, 1] or NaN")
    if (np.diff(probability) < 0).any():
        raise ModelBundleError(f"{where} is not monotone: it would reverse the ranking")
    return calibration


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
    points: PointsScale = field(default_factory=PointsScale)  # probability -> points, bands

    @property
    def feature_names(self) -> list[str]:
        return self.model.feature_names

    def features(
        self, applications: pd.DataFrame, histories: Histories | None = None
    ) -> pd.DataFrame:
        """The model's input rows: ``build_features``, the model's columns."""
        return self.inputs(build_features(applications, self.schema, histories))

    def inputs(self, built: pd.DataFrame) -> pd.DataFrame:
        """The model's columns of a ``build_features`` frame of this schema (built once per
        batch for a champion and a challenger that share it)."""
        return built[self.feature_names]

    def raw_score(
        self, applications: pd.DataFrame, histories: Histories | None = None
    ) -> np.ndarray:
        """The model's log-odds of default, before calibration."""
        return self.raw_score_of(self.features(applications, histories))

    def raw_score_of(self, features: pd.DataFrame) -> np.ndarray:
        """The log-odds of default of the model's input rows (``features``)."""
        return self.model.raw_score(features.to_numpy())

    def predict_proba(
        self, applications: pd.DataFrame, histories: Histories | None = None
    ) -> np.ndarray:
        """Calibrated probability of default; ``histories`` as in ``build_features``."""
        return self.probability_of(self.features(applications, histories))

    def probability_of(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of default of the model's input rows (``features``)."""
        return self.calibration.apply(self.raw_score_of(features))

    def explain(
        self, applications: pd.DataFrame, histories: Histories | None = None
    ) -> Explanation:
        """Exact contributions for a whole batch (TreeSHAP for LightGBM, coefficient x centred
        value for the linear families).

        Contributions and base value add up to the raw log-odds; the probability is the
        calibrated one, as in ``predict_proba``.
        """
        return self.explanation_of(self.features(applications, histories))

    def explanation_of(self, features: pd.DataFrame) -> Explanation:
        """``explain`` of the model's input rows (``features``)."""
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

    def contributions(
        self, explanation: Explanation, row: int, top: int | None = None
    ) -> list[dict]:
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

    @cached_property
    def reason_catalogue(self) -> list[ReasonSpec]:
        """Each feature's statement, unit and sources (core.reasons), in model order."""
        names = self.feature_names
        return catalogue(self.schema, names, get_profile(self.schema.profile).reasons(names))

    @cached_property
    def _citable(self) -> np.ndarray:
        """Which features a reason may cite: not a raw field the profile never cites (a
        protected attribute under credit law), nor one declared protected, nor anything
        computed from those."""
        fields = set(self.schema.names)
        never = [
            name
            for name, entry in zip(self.feature_names, self.reason_catalogue, strict=True)
            if name in fields and not entry.statement
        ]
        return citable(self.reason_catalogue, protected_fields(self.schema.fields, never))

    @cached_property
    def reference_values(self) -> np.ndarray:
        """Per feature, the median among the reference applicants this model grants (the
        most frequent category), computed once: what a refused applicant is compared with.
        NaN throughout without a reference sample."""
        explanation = self._reference_explanation
        if explanation is None:
            return np.full(len(self.feature_names), np.nan)
        granted = explanation.probability < self.threshold
        categorical = np.isin(self.feature_names, [s.name for s in self.schema.categorical])
        return reference_values(explanation.features.to_numpy(), granted, categorical)

    @cached_property
    def _reference_explanation(self) -> Explanation | None:
        """The reference sample explained once, for the reference values and the global
        importance (building its features is most of a service's start-up)."""
        if self.reference is None:
            return None
        return self.explain(self.reference, self.reference_histories)

    def reasons(self, explanation: Explanation, row: int) -> list[Reason]:
        """The principal reasons of a refusal (at most four, towards refusal only, grouped by
        statement, never missing or protected); none for a granted applicant, whom no
        adverse action concerns."""
        if explanation.probability[row] < self.threshold:
            return []
        return adverse_reasons(
            explanation.contributions[row],
            explanation.features.iloc[row].to_numpy(float),
            self.feature_names,
            self.reason_catalogue,
            self._citable,
            self.reference_values,
            self._categories,
        )

    def global_importance(self) -> dict[str, float]:
        """Mean |contribution| per feature over the reference sample, largest first."""
        explanation = self._reference_explanation
        if explanation is None:
            return {}
        mean = np.abs(explanation.contributions).mean(axis=0)
        return {self.feature_names[j]: float(mean[j]) for j in np.argsort(-mean, kind="stable")}

    def decide(self, probability: np.ndarray) -> list[Decision]:
        return ["refused" if p >= self.threshold else "granted" for p in probability]

    def grade(self, probability: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Scorecard points (rounded to 0.1) and risk band of calibrated probabilities."""
        points = np.round(self.points.points_of(probability), 1)
        return points, self.points.bands_of(points)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder)
        (folder / SCHEMA_FILE).write_text(self.schema.to_json(), encoding="utf-8")
        meta = {
            "threshold": self.threshold,
            "family": self.model.family,
            "costs": {"fn_cost": self.costs.fn_cost, "fp_cost": self.costs.fp_cost},
            "calibration": self.calibration.to_dict(),
            "points_scale": self.points.to_dict(),
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
            threshold=_checked_threshold(meta, folder),
            schema=schema,
            costs=CostMatrix(**meta.pop("costs")),
            calibration=_checked_calibration(meta.pop("calibration", None), folder),
            points=PointsScale.from_dict(meta.pop("points_scale", None)),
            metadata=meta,
            reference=read_parquet(reference_path) if reference_path.is_file() else None,
            reference_histories=reference_histories or None,
        )
