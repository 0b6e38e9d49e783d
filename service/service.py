"""The Bento service: predict, explain and scoring by client id; batchable, typed from the
stored schema, every answer appended to the request log.

The request model is built at import time from the input schema stored with the promoted
model, so validation and the OpenAPI page follow whatever model is served.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import bentoml
import pandas as pd
from pydantic import Field

from credit_scoring.request_log import LoggedScore, RequestLog
from credit_scoring.schema import InputSchema
from credit_scoring.scorer import SCHEMA_FILE, Scorer, reference_applications
from credit_scoring.settings import get_settings
from service.auth import BearerTokenMiddleware
from service.contract import Explanation, ModelInfo, Prediction

SETTINGS = get_settings()
TOP_FEATURES = 5
MODEL = bentoml.models.BentoModel(f"{SETTINGS.model_name}:latest")
log = logging.getLogger("bentoml.credit_scoring")


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


@bentoml.service(traffic={"timeout": 30}, resources={"cpu": "2"})
class CreditScoring:
    model = MODEL

    def __init__(self) -> None:
        self.scorer = Scorer.load(Path(self.model.path))
        self.version = str(self.model.tag)
        self.request_log = RequestLog(SETTINGS.request_log)
        log.info(
            "model %s loaded; request log %s; %s",
            self.version,
            SETTINGS.request_log,
            "API key required" if SETTINGS.api_key else "NO API KEY SET: the service is open",
        )

    def _score(self, frame: pd.DataFrame, endpoint: str) -> list[Prediction]:
        explanation = self.scorer.explain(frame)
        decisions = self.scorer.decide(explanation.probability)
        ids = frame[SCHEMA.id_column].tolist()
        answers = [
            Prediction(
                SK_ID_CURR=ids[i],
                probability=float(explanation.probability[i]),
                decision=decisions[i],
                threshold=self.scorer.threshold,
                top_features=self.scorer.reasons(explanation, i, TOP_FEATURES),
            )
            for i in range(len(frame))
        ]
        self._log(endpoint, frame, answers)
        return answers

    def _log(self, endpoint: str, frame: pd.DataFrame, answers: list) -> None:
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        self.request_log.append(
            LoggedScore(
                endpoint,
                self.version,
                a.SK_ID_CURR,
                a.probability,
                self.scorer.decide([a.probability])[0],
                self.scorer.threshold,
                record,
            )
            for a, record in zip(answers, records, strict=True)
        )

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=1000)
    def predict(self, applications: list[Application]) -> list[Prediction]:  # type: ignore[valid-type]
        """Probability of default, decision against the cost-optimal threshold, reason codes."""
        if not applications:
            return []
        return self._score(_frame(applications), "predict")

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=1000)
    def explain(self, applications: list[Application]) -> list[Explanation]:  # type: ignore[valid-type]
        """Every feature's SHAP contribution (log-odds) and the base value, per applicant."""
        if not applications:
            return []
        frame = _frame(applications)
        explanation = self.scorer.explain(frame)
        ids = frame[SCHEMA.id_column].tolist()
        answers = [
            Explanation(
                SK_ID_CURR=ids[i],
                probability=float(explanation.probability[i]),
                base_value=float(explanation.base_value[i]),
                contributions=self.scorer.reasons(explanation, i),
            )
            for i in range(len(frame))
        ]
        self._log("explain", frame, answers)
        return answers

    @bentoml.api
    def predict_client(
        self, client_ids: Annotated[list[int], Field(min_length=1, max_length=1000)]
    ) -> list[Prediction]:
        """Score clients of the reference sample shipped with the model, by SK_ID_CURR."""
        try:
            frame = reference_applications(self.scorer, client_ids)
        except KeyError as error:
            raise bentoml.exceptions.NotFound(str(error.args[0])) from error
        return self._score(frame, "predict_client")

    @bentoml.api
    def clients(self) -> list[int]:
        """Ids of the clients that ``predict_client`` can score."""
        reference = self.scorer.reference
        return [] if reference is None else reference[SCHEMA.id_column].astype(int).tolist()

    @bentoml.api
    def metadata(self) -> ModelInfo:
        """What is served: model version, MLflow run, threshold, costs, metrics, features."""
        meta = self.scorer.metadata
        return ModelInfo(
            model_tag=self.version,
            mlflow_run_id=meta.get("mlflow_run_id"),
            threshold=self.scorer.threshold,
            costs={"fn_cost": self.scorer.costs.fn_cost, "fp_cost": self.scorer.costs.fp_cost},
            metrics={k: float(v) for k, v in meta.get("metrics", {}).items()},
            features=self.scorer.feature_names,
            input_fields=SCHEMA.names,
            reference_clients=0 if self.scorer.reference is None else len(self.scorer.reference),
        )


def _frame(applications: list[Application]) -> pd.DataFrame:  # type: ignore[valid-type]
    """One DataFrame per batch, not per row: a frame costs more than the model itself."""
    return pd.DataFrame.from_records([a.model_dump() for a in applications])


if SETTINGS.api_key:
    CreditScoring.add_asgi_middleware(BearerTokenMiddleware, token=SETTINGS.api_key)
