"""The Bento service: score, predict (with reason codes), explain and scoring by client id;
batchable, typed from the stored schema, every answer appended to the request log.

The request model is built at import time from the input schema stored with the promoted
model, so validation and the OpenAPI page follow whatever model is served.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from pathlib import Path
from typing import Annotated

import bentoml
import numpy as np
import pandas as pd
from pydantic import Field

from credit_scoring.features import Histories
from credit_scoring.parquet import read_parquet
from credit_scoring.request_log import LoggedScore, RequestLog
from credit_scoring.schema import InputSchema
from credit_scoring.scorer import REFERENCE_FILE, SCHEMA_FILE, Scorer
from credit_scoring.settings import get_settings
from service import bentoml_fixes
from service.auth import BearerTokenMiddleware
from service.contract import ModelInfo, response_models
from service.guards import BodySizeLimitMiddleware, JsonContentTypeMiddleware

SETTINGS = get_settings()
TOP_FEATURES = 5
MAX_ROWS_PER_REQUEST = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024  # 1000 full applications are ~3 MB of JSON
# BentoML cancels (503) a queued request whose *predicted* latency exceeds max_latency_ms; one
# 1000-row explain request is enough to train that predictor into refusing everything for a
# while. Overload is bounded instead by traffic.timeout (504), so the cap sits below it.
BATCHING = {"batchable": SETTINGS.batching, "max_batch_size": 64, "max_latency_ms": 20_000}
MODEL = bentoml.models.BentoModel(f"{SETTINGS.model_name}:latest")
# The runtime image, declared once. distro="custom" skips BentoML's apt step (build-essential,
# git): every served package installs from a binary wheel, so no compiler ships in the image.
# LightGBM's one system library is the OpenMP runtime, which slim bases lack. deploy/image.py
# swaps in a locally built Debian base (that has it) where no registry can be reached.
IMAGE = bentoml.images.Image(
    base_image="python:3.11-slim", distro="custom", python_version="3.11"
).run(
    "ldconfig -p | grep -q libgomp.so.1 || (apt-get update && apt-get install -y"
    " --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*)"
)
log = logging.getLogger("bentoml.credit_scoring")  # under "bentoml": shown by its log config
bentoml_fixes.apply()

DECISIONS = bentoml.metrics.Counter(
    name="credit_decisions_total",
    documentation="Applicants scored, by decision and endpoint",
    labelnames=["decision", "endpoint"],
)
SCORES = bentoml.metrics.Histogram(
    name="credit_default_probability",
    documentation="Distribution of predicted default probabilities",
    labelnames=["endpoint"],
    buckets=(0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0),
)


def _stored_schema() -> InputSchema:
    stored = MODEL.stored
    if stored is None:
        raise bentoml.exceptions.NotFound(
            f"no model {MODEL.tag} in the BentoML store: train and promote one first "
            "(`make train promote`), or set CREDIT_MODEL_NAME / BENTOML_HOME"
        )
    return InputSchema.from_json(Path(stored.path, SCHEMA_FILE).read_text("utf-8"))


def _example() -> list[dict]:
    """The OpenAPI example: the first client of the reference sample shipped with the model."""
    path = Path(MODEL.stored.path, REFERENCE_FILE)
    if not path.is_file():
        return [{}]
    row = read_parquet(path).drop(columns=[SCHEMA.target_column], errors="ignore").iloc[0]
    return [json.loads(row.dropna().to_json())]


SCHEMA = _stored_schema()
Application = SCHEMA.request_model()
# Answers echo the id under the schema's id column (SK_ID_CURR for Home Credit).
Score, Prediction, Explanation = response_models(SCHEMA.id_column, SCHEMA.id_integer)
ClientIds = Annotated[
    list[SCHEMA.id_type()],  # type: ignore[valid-type]
    Field(min_length=1, max_length=MAX_ROWS_PER_REQUEST),
]
Applications = Annotated[
    list[Application],  # type: ignore[valid-type]
    Field(max_length=MAX_ROWS_PER_REQUEST, examples=[_example()]),
]


@bentoml.service(
    image=IMAGE,
    traffic={"timeout": 30},
    workers=SETTINGS.workers,
    logging={"access": {"enabled": False}},  # one structured line per batch instead
)
class CreditScoring:
    model = MODEL

    def __init__(self) -> None:
        self.scorer = Scorer.load(Path(self.model.path))
        self.version = str(self.model.tag)
        self.request_log = RequestLog(SETTINGS.request_log)
        self.importance = self.scorer.global_importance()
        self.ready = self._warm_up()
        # Everything loaded so far lives as long as the process: keep it out of GC scans.
        gc.freeze()
        _log_event(
            "model_loaded",
            model=self.version,
            request_log=str(SETTINGS.request_log),
            auth="api key required" if SETTINGS.api_key else "OPEN: no CREDIT_API_KEY set",
            batching=SETTINGS.batching,
        )

    def _warm_up(self) -> bool:
        """Score one empty application end to end: ready means able to answer."""
        probability = self.scorer.predict_proba(pd.DataFrame([{}]))
        return bool(np.isfinite(probability).all())

    def __is_ready__(self) -> bool:
        return self.ready

    def _answer(
        self,
        frame: pd.DataFrame,
        ids: list[int | None],
        endpoint: str,
        reasons: bool,
        histories: Histories | None = None,
    ) -> list[Prediction]:
        started = time.perf_counter()
        if reasons:
            explanation = self.scorer.explain(frame, histories)
            probability = explanation.probability
        else:
            probability = self.scorer.predict_proba(frame, histories)
        decisions = self.scorer.decide(probability)
        model = Prediction if reasons else Score
        answers = [
            model(
                **{SCHEMA.id_column: ids[i]},
                probability=float(probability[i]),
                decision=decisions[i],
                threshold=self.scorer.threshold,
                **(
                    {"top_features": self.scorer.reasons(explanation, i, TOP_FEATURES)}
                    if reasons
                    else {}
                ),
            )
            for i in range(len(frame))
        ]
        self._record(endpoint, frame, ids, probability, decisions, started)
        return answers

    def _record(
        self,
        endpoint: str,
        frame: pd.DataFrame,
        ids: list[int | None],
        probability: np.ndarray,
        decisions: list[str],
        started: float,
    ) -> None:
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        self.request_log.append(
            LoggedScore(
                endpoint,
                self.version,
                ids[i],
                float(probability[i]),
                decisions[i],
                self.scorer.threshold,
                records[i],
            )
            for i in range(len(frame))
        )
        for decision in ("granted", "refused"):
            DECISIONS.labels(decision=decision, endpoint=endpoint).inc(decisions.count(decision))
        for p in probability:
            SCORES.labels(endpoint=endpoint).observe(float(p))
        _log_event(
            "scored",
            endpoint=endpoint,
            rows=len(frame),
            refused=decisions.count("refused"),
            ms=round(1000 * (time.perf_counter() - started), 2),
        )

    @bentoml.api(**BATCHING)
    def score(self, applications: Applications) -> list[Score]:
        """Probability of default and decision only: the cheapest answer."""
        if not applications:
            return []
        return self._answer(_frame(applications), _ids(applications), "score", reasons=False)

    @bentoml.api(**BATCHING)
    def predict(self, applications: Applications) -> list[Prediction]:
        """Probability of default, decision against the cost-optimal threshold, reason codes."""
        if not applications:
            return []
        return self._answer(_frame(applications), _ids(applications), "predict", reasons=True)

    @bentoml.api(**BATCHING)
    def explain(self, applications: Applications) -> list[Explanation]:
        """Every feature's SHAP contribution (log-odds) and the base value, per applicant."""
        if not applications:
            return []
        return self._explanations(_frame(applications), _ids(applications), "explain")

    def _explanations(
        self,
        frame: pd.DataFrame,
        ids: list[int | None],
        endpoint: str,
        histories: Histories | None = None,
    ) -> list[Explanation]:
        started = time.perf_counter()
        explanation = self.scorer.explain(frame, histories)
        answers = [
            Explanation(
                **{SCHEMA.id_column: ids[i]},
                probability=float(explanation.probability[i]),
                base_value=float(explanation.base_value[i]),
                contributions=self.scorer.reasons(explanation, i),
            )
            for i in range(len(frame))
        ]
        decisions = self.scorer.decide(explanation.probability)
        self._record(endpoint, frame, ids, explanation.probability, decisions, started)
        return answers

    @bentoml.api
    def predict_client(self, client_ids: ClientIds) -> list[Prediction]:
        """Score clients of the reference sample shipped with the model, by SK_ID_CURR."""
        applications, histories = self._reference_rows(client_ids)
        return self._answer(applications, client_ids, "predict_client", True, histories)

    @bentoml.api
    def explain_client(self, client_ids: ClientIds) -> list[Explanation]:
        """Every feature's contribution for clients of the reference sample, by SK_ID_CURR."""
        applications, histories = self._reference_rows(client_ids)
        return self._explanations(applications, client_ids, "explain_client", histories)

    def _reference_rows(self, client_ids: list[int]) -> tuple[pd.DataFrame, Histories]:
        try:
            return self.scorer.reference_rows(client_ids)
        except KeyError as error:
            raise bentoml.exceptions.NotFound(str(error.args[0])) from error

    @bentoml.api
    def clients(self) -> list[int | str]:
        """Ids of the clients that ``predict_client`` can score."""
        reference = self.scorer.reference
        return [] if reference is None else reference[SCHEMA.id_column].tolist()

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
            id_column=SCHEMA.id_column,
            dataset=SCHEMA.name,
            reference_clients=0 if self.scorer.reference is None else len(self.scorer.reference),
            global_importance=self.importance,
        )


def _frame(applications: list[Application]) -> pd.DataFrame:  # type: ignore[valid-type]
    """One DataFrame per batch, not per row: a frame costs more than the model itself."""
    return pd.DataFrame.from_records([a.model_dump() for a in applications])


def _ids(applications: list[Application]) -> list[int | None]:  # type: ignore[valid-type]
    """Ids as sent: from the models, not the frame, where a missing id would turn all to float."""
    return [getattr(a, SCHEMA.id_column) for a in applications]


def _log_event(event: str, **fields: object) -> None:
    """Structured log: one JSON object per line, easy to ship and query."""
    log.info(json.dumps({"event": event, "pid": os.getpid(), **fields}, default=str))


CreditScoring.add_asgi_middleware(BodySizeLimitMiddleware, max_bytes=MAX_BODY_BYTES)
CreditScoring.add_asgi_middleware(JsonContentTypeMiddleware)
if SETTINGS.api_key:
    CreditScoring.add_asgi_middleware(BearerTokenMiddleware, token=SETTINGS.api_key)
