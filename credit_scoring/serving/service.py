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
from typing import TYPE_CHECKING, Annotated

import bentoml
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from credit_scoring.core.parquet import read_parquet
from credit_scoring.core.profile import get_profile
from credit_scoring.core.request_log import LoggedScore, RequestLog
from credit_scoring.core.schema import InputSchema
from credit_scoring.core.scorer import (
    REFERENCE_FILE,
    REFERENCE_TABLE_FILE,
    SCHEMA_FILE,
    Decision,
    Scorer,
)
from credit_scoring.core.tables import client_rows, parent_keys
from credit_scoring.serving import bentoml_fixes
from credit_scoring.serving.auth import BearerTokenMiddleware
from credit_scoring.serving.batch import Batch, to_batch
from credit_scoring.serving.contract import ModelInfo, response_models
from credit_scoring.serving.guards import BodySizeLimitMiddleware, JsonContentTypeMiddleware
from credit_scoring.serving.settings import ServingSettings

SETTINGS = ServingSettings()
TOP_FEATURES = 5
MAX_ROWS_PER_REQUEST = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024  # 1000 full applications are ~3 MB of JSON
# BentoML cancels (503) a queued request whose *predicted* latency exceeds max_latency_ms; one
# 1000-row explain request is enough to train that predictor into refusing everything for a
# while. Overload is bounded instead by traffic.timeout (504), so the cap sits below it.
BATCHING = {
    "batchable": SETTINGS.batching,
    "max_batch_size": SETTINGS.max_batch_size,
    "max_latency_ms": 20_000,
}
MODEL = bentoml.models.BentoModel(f"{SETTINGS.core.model_name}:latest")
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
    """The OpenAPI example: the first client of the reference sample shipped with the model,
    with at most two rows of each history table (a readable example, still a valid one: a
    child table's rows belong to the parent rows kept)."""
    folder = Path(MODEL.stored.path)
    if not (folder / REFERENCE_FILE).is_file():
        return [{}]
    reference = read_parquet(folder / REFERENCE_FILE)
    client = reference.drop(columns=[SCHEMA.target_column], errors="ignore").iloc[0]
    example = json.loads(client.dropna().to_json())
    specs = get_profile(SCHEMA.profile).history_tables(SCHEMA.tables) if SCHEMA.tables else {}
    paths = {t: folder / REFERENCE_TABLE_FILE.format(t) for t in SCHEMA.tables}
    tables = {t: read_parquet(p) for t, p in paths.items() if p.is_file()}
    rows = client_rows(tables, [client[SCHEMA.id_column]], specs)
    parents = parent_keys(specs)
    rows = {t: own.head(2) if t in parents else own for t, own in rows.items()}
    rows = client_rows(rows, [client[SCHEMA.id_column]], specs)
    for table, own in rows.items():
        link = specs[table].link
        implied = [link.key] if link.parent is None else []  # the applicant's id: implied
        own = own.drop(columns=implied).head(2)
        if len(own):
            example[table] = [json.loads(r.dropna().to_json()) for _, r in own.iterrows()]
    return [example]


SCHEMA = _stored_schema()
if TYPE_CHECKING:
    # The models below are built at run time from the stored schema, which mypy cannot read:
    # statically they are pydantic models, and an id is an integer or a string.
    Application = BaseModel
    Score = BaseModel
    Prediction = BaseModel
    Explanation = BaseModel
    ClientIds = list[int | str]
    Applications = list[BaseModel]
else:
    Application = SCHEMA.request_model()
    # Answers echo the id under the schema's id column.
    Score, Prediction, Explanation = response_models(SCHEMA.id_column, SCHEMA.id_integer)
    ClientIds = Annotated[
        list[SCHEMA.id_type()],
        Field(min_length=1, max_length=MAX_ROWS_PER_REQUEST),
    ]
    Applications = Annotated[
        list[Application],
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
        self.request_log = RequestLog(SETTINGS.core.request_log)
        self.importance = self.scorer.global_importance()
        self.ready = self._warm_up()
        # Everything loaded so far lives as long as the process: keep it out of GC scans.
        gc.freeze()
        _log_event(
            "model_loaded",
            model=self.version,
            request_log=str(SETTINGS.core.request_log),
            auth="api key required" if SETTINGS.api_key else "OPEN: no CREDIT_API_KEY set",
            batching=SETTINGS.batching,
            **bentoml_fixes.status(),
        )

    def _warm_up(self) -> bool:
        """Score one empty application end to end: ready means able to answer."""
        probability = self.scorer.predict_proba(pd.DataFrame([{}]))
        return bool(np.isfinite(probability).all())

    def __is_ready__(self) -> bool:
        return self.ready

    def _answer(self, batch: Batch, endpoint: str, reasons: bool) -> list[Prediction]:
        started = time.perf_counter()
        ids = batch.ids
        if reasons:
            explanation = self.scorer.explain(batch.applications, batch.histories)
            probability = explanation.probability
        else:
            probability = self.scorer.predict_proba(batch.applications, batch.histories)
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
            for i in range(len(batch))
        ]
        self._record(endpoint, batch, probability, decisions, started)
        return answers

    def _record(
        self,
        endpoint: str,
        batch: Batch,
        probability: np.ndarray,
        decisions: list[Decision],
        started: float,
    ) -> None:
        self.request_log.append(
            LoggedScore(
                endpoint,
                self.version,
                batch.ids[i],
                float(probability[i]),
                decisions[i],
                self.scorer.threshold,
                batch.logged[i],
            )
            for i in range(len(batch))
        )
        for decision in ("granted", "refused"):
            DECISIONS.labels(decision=decision, endpoint=endpoint).inc(decisions.count(decision))
        for p in probability:
            SCORES.labels(endpoint=endpoint).observe(float(p))
        _log_event(
            "scored",
            endpoint=endpoint,
            rows=len(batch),
            refused=decisions.count("refused"),
            ms=round(1000 * (time.perf_counter() - started), 2),
        )

    @bentoml.api(**BATCHING)
    def score(self, applications: Applications) -> list[Score]:
        """Probability of default and decision only: the cheapest answer."""
        if not applications:
            return []
        return self._answer(to_batch(applications, SCHEMA), "score", reasons=False)

    @bentoml.api(**BATCHING)
    def predict(self, applications: Applications) -> list[Prediction]:
        """Probability of default, decision against the cost-optimal threshold, reason codes."""
        if not applications:
            return []
        return self._answer(to_batch(applications, SCHEMA), "predict", reasons=True)

    @bentoml.api(**BATCHING)
    def explain(self, applications: Applications) -> list[Explanation]:
        """Every feature's SHAP contribution (log-odds) and the base value, per applicant."""
        if not applications:
            return []
        return self._explanations(to_batch(applications, SCHEMA), "explain")

    def _explanations(self, batch: Batch, endpoint: str) -> list[Explanation]:
        started = time.perf_counter()
        explanation = self.scorer.explain(batch.applications, batch.histories)
        answers = [
            Explanation(
                **{SCHEMA.id_column: batch.ids[i]},
                probability=float(explanation.probability[i]),
                base_value=float(explanation.base_value[i]),
                contributions=self.scorer.reasons(explanation, i),
            )
            for i in range(len(batch))
        ]
        decisions = self.scorer.decide(explanation.probability)
        self._record(endpoint, batch, explanation.probability, decisions, started)
        return answers

    @bentoml.api
    def predict_client(self, client_ids: ClientIds) -> list[Prediction]:
        """Score clients of the reference sample shipped with the model, by the dataset's id
        column."""
        return self._answer(self._reference_batch(client_ids), "predict_client", reasons=True)

    @bentoml.api
    def explain_client(self, client_ids: ClientIds) -> list[Explanation]:
        """Every feature's contribution for clients of the reference sample, by the dataset's
        id column."""
        return self._explanations(self._reference_batch(client_ids), "explain_client")

    def _reference_batch(self, client_ids: list[int | str]) -> Batch:
        try:
            applications, histories = self.scorer.reference_rows(client_ids)
        except KeyError as error:
            raise bentoml.exceptions.NotFound(str(error.args[0])) from error
        # pandas-stubs leave out None as `other`, which pandas accepts: missing -> None.
        fields = applications.astype(object).where(applications.notna(), None)  # type: ignore[call-overload]
        return Batch(applications, histories, client_ids, fields.to_dict(orient="records"))

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
            family=self.scorer.model.family,
            families=meta.get("families", {}),
        )


def _log_event(event: str, **fields: object) -> None:
    """Structured log: one JSON object per line, easy to ship and query."""
    log.info(json.dumps({"event": event, "pid": os.getpid(), **fields}, default=str))


# @bentoml.service made CreditScoring a bentoml.Service, which has add_asgi_middleware; mypy
# does not apply class decorators and still sees the plain class.
CreditScoring.add_asgi_middleware(BodySizeLimitMiddleware, max_bytes=MAX_BODY_BYTES)  # type: ignore[attr-defined]
CreditScoring.add_asgi_middleware(JsonContentTypeMiddleware)  # type: ignore[attr-defined]
if SETTINGS.api_key:
    CreditScoring.add_asgi_middleware(BearerTokenMiddleware, token=SETTINGS.api_key)  # type: ignore[attr-defined]
