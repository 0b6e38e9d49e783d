"""The Bento service: ``predict`` and ``explain``, batchable, typed from the stored schema.

The request model is built at import time from the input schema stored with the promoted
model, so validation and the OpenAPI page follow whatever model is served.
"""

from __future__ import annotations

from pathlib import Path

import bentoml
import pandas as pd

from credit_scoring.schema import InputSchema
from credit_scoring.scorer import SCHEMA_FILE, Scorer
from credit_scoring.settings import get_settings
from service.contract import Explanation, Prediction

SETTINGS = get_settings()
TOP_FEATURES = 5
MODEL = bentoml.models.BentoModel(f"{SETTINGS.model_name}:latest")


def _stored_schema() -> InputSchema:
    stored = MODEL.stored
    if stored is None:
        raise bentoml.exceptions.NotFound(
            f"no model {MODEL.tag} in the BentoML store: train and promote one first "
            "(`make train promote`), or set CREDIT_MODEL_NAME / BENTOML_HOME"
        )
    return InputSchema.from_json(Path(stored.path, SCHEMA_FILE).read_text("utf-8"))


SCHEMA = _stored_schema()
Application = SCHEMA.request_model()


def _frame(applications: list[Application]) -> pd.DataFrame:  # type: ignore[valid-type]
    """One DataFrame per batch, not per row: a frame costs more than the model itself."""
    return pd.DataFrame.from_records([a.model_dump() for a in applications], columns=None)


@bentoml.service(
    traffic={"timeout": 30},
    resources={"cpu": "2"},
)
class CreditScoring:
    model = MODEL

    def __init__(self) -> None:
        self.scorer = Scorer.load(Path(self.model.path))

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=1000)
    def predict(self, applications: list[Application]) -> list[Prediction]:  # type: ignore[valid-type]
        """Probability of default, decision against the cost-optimal threshold, reason codes."""
        if not applications:
            return []
        frame = _frame(applications)
        explanation = self.scorer.explain(frame)
        decisions = self.scorer.decide(explanation.probability)
        ids = frame[SCHEMA.id_column].tolist()
        return [
            Prediction(
                SK_ID_CURR=ids[i],
                probability=float(explanation.probability[i]),
                decision=decisions[i],
                threshold=self.scorer.threshold,
                top_features=self.scorer.reasons(explanation, i, TOP_FEATURES),
            )
            for i in range(len(applications))
        ]

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=1000)
    def explain(self, applications: list[Application]) -> list[Explanation]:  # type: ignore[valid-type]
        """Every feature's SHAP contribution (log-odds) and the base value, per applicant."""
        if not applications:
            return []
        frame = _frame(applications)
        explanation = self.scorer.explain(frame)
        ids = frame[SCHEMA.id_column].tolist()
        return [
            Explanation(
                SK_ID_CURR=ids[i],
                probability=float(explanation.probability[i]),
                base_value=float(explanation.base_value[i]),
                contributions=self.scorer.reasons(explanation, i),
            )
            for i in range(len(applications))
        ]
