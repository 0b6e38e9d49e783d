"""The Bento service: score, predict (with the reasons of a refusal), explain and scoring by
client id; batchable, typed from the stored schema, every answered applicant appended to the
decision record (``serving.record``: only answers that reached their client); officers'
overrides appended to the override log.

The request model is built at import time from the input schema stored with the promoted
model, so validation and the OpenAPI page follow whatever model is served.

One model per server: the arbiter (the process ``bentoml serve`` runs, which imports this
module before it starts any worker) resolves ``<CREDIT_MODEL_NAME>:latest`` once and exports
the concrete tag as ``CREDIT_MODEL_TAG``; every worker, a restarted one too, inherits it, so a
promote while serving changes nothing until the next start. The bundle's digests are checked
and the request log opened in the arbiter too, so a tampered model or an unwritable log stops
the start with one clear error instead of workers restarting in a loop.

The challenger, when one is promoted, is pinned the same way (``CREDIT_CHALLENGER_TAG``, or
``CREDIT_SHADOW=off`` when there is none) and scored in shadow on every batch
(``serving.shadow``): the (champion, challenger) pair is fixed for the life of a server.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, replace
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import bentoml
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, StringConstraints
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from credit_scoring.core import outcomes as outcome_store
from credit_scoring.core.features import build_features
from credit_scoring.core.overrides import NoModelAnswer, OverrideLog, OverrideRefused, model_answer
from credit_scoring.core.parquet import read_parquet
from credit_scoring.core.profile import get_profile
from credit_scoring.core.request_log import LoggedDecision
from credit_scoring.core.schema import InputSchema
from credit_scoring.core.scorer import (
    CARD_HTML,
    CARD_MD,
    REFERENCE_FILE,
    REFERENCE_TABLE_FILE,
    SCHEMA_FILE,
    Decision,
    Scorer,
    verify_digests,
)
from credit_scoring.core.scorer import Explanation as ScorerExplanation
from credit_scoring.serving import bentoml_fixes, error_log, gc_policy, record, shadow
from credit_scoring.serving.auth import (
    BearerTokenMiddleware,
    ClosedPathMiddleware,
    metrics_path,
    outcomes_path,
)
from credit_scoring.serving.batch import Batch, to_batch
from credit_scoring.serving.contract import (
    ChallengerInfo,
    ModelInfo,
    ObservedOutcome,
    OutcomeReceipt,
    override_model,
    response_models,
)
from credit_scoring.serving.docs import DocsMiddleware, amend_spec, typical_application
from credit_scoring.serving.guards import BodySizeLimitMiddleware, JsonContentTypeMiddleware
from credit_scoring.serving.readiness import RequestLogProbe, checked_folder
from credit_scoring.serving.settings import ServingSettings

SETTINGS = ServingSettings()
MODEL_TAG_ENV = "CREDIT_MODEL_TAG"  # the concrete tag the arbiter resolved, for its workers
CHALLENGER_TAG_ENV = "CREDIT_CHALLENGER_TAG"  # the same for the challenger scored in shadow
SHADOW_ENV = "CREDIT_SHADOW"  # "off" for the workers of an arbiter that found no challenger
ARBITER_PID_ENV = "CREDIT_ARBITER_PID"  # so that a worker can die with its arbiter
MAX_ROWS_PER_REQUEST = 1000
MAX_OUTCOMES_PER_REQUEST = 10_000  # ~70 bytes each: well inside the body limit
MAX_BODY_BYTES = 4 * 1024 * 1024  # 1000 full applications are ~3 MB of JSON
# BentoML cancels (503) a queued request whose *predicted* latency exceeds max_latency_ms; one
# 1000-row explain request is enough to train that predictor into refusing everything for a
# while. Overload is bounded instead by traffic.timeout (504), so the cap sits below it.
BATCHING = {
    "batchable": SETTINGS.batching,
    "max_batch_size": SETTINGS.max_batch_size,
    "max_latency_ms": 20_000,
}


def _pinned_model() -> bentoml.models.BentoModel:
    """The one model version this server serves: ``CREDIT_MODEL_TAG`` when set (by the
    arbiter, for its workers, or by the user), else the newest one; exported for the workers."""
    wanted = SETTINGS.model_tag or f"{SETTINGS.core.model_name}:latest"
    try:
        tag = bentoml.models.get(wanted).tag
    except bentoml.exceptions.NotFound as error:
        raise bentoml.exceptions.NotFound(
            f"no model {wanted} in the BentoML store: train and promote one first "
            "(`make train promote`), or set CREDIT_MODEL_NAME / CREDIT_MODEL_TAG / BENTOML_HOME"
        ) from error
    os.environ[MODEL_TAG_ENV] = str(tag)
    return bentoml.models.BentoModel(tag)


def _pinned_challenger() -> str | None:
    """The challenger this server scores in shadow, pinned like the model:
    ``CREDIT_CHALLENGER_TAG`` when set, else the newest ``<CREDIT_MODEL_NAME>_challenger``; None
    with ``CREDIT_SHADOW=off`` or when none is promoted (then the workers are told so, rather
    than left to look again)."""
    if not SETTINGS.shadow:
        return None
    wanted = SETTINGS.challenger_tag or f"{SETTINGS.core.challenger_name}:latest"
    try:
        tag = str(bentoml.models.get(wanted).tag)
    except bentoml.exceptions.NotFound:
        if SETTINGS.challenger_tag:  # named but gone: recorded as an error on every row
            return wanted
        os.environ[SHADOW_ENV] = "off"
        return None
    os.environ[CHALLENGER_TAG_ENV] = tag
    return tag


def _bind_to_arbiter() -> None:
    """In the arbiter, publish its pid; in a worker, die when the arbiter does."""
    if bentoml.server_context.worker_index is None:
        os.environ[ARBITER_PID_ENV] = str(os.getpid())
    else:
        bentoml_fixes.die_with_arbiter(int(os.environ.get(ARBITER_PID_ENV, os.getppid())))


MODEL = _pinned_model()
CHALLENGER_TAG = _pinned_challenger()
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
_bind_to_arbiter()
error_log.install()  # a client's error is one line, without the values it sent

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
    """The promoted model's schema, with the unseen-category policy of the settings when one
    is set (CREDIT_UNSEEN), else the model's own."""
    schema = InputSchema.from_json(Path(MODEL_DIR, SCHEMA_FILE).read_text("utf-8"))
    return replace(schema, unseen=SETTINGS.unseen) if SETTINGS.unseen else schema


def _example() -> list[dict]:
    """The OpenAPI example: a typical applicant of the reference sample shipped with the
    model (statistics, never a client's record: the spec is open to anyone)."""
    folder = Path(MODEL.stored.path)
    reference = folder / REFERENCE_FILE
    tables = get_profile(SCHEMA.profile).history_tables(SCHEMA.tables) if SCHEMA.tables else {}
    paths = {t: folder / REFERENCE_TABLE_FILE.format(t) for t in tables}
    return [
        typical_application(
            SCHEMA,
            read_parquet(reference) if reference.is_file() else None,
            {t: read_parquet(p) for t, p in paths.items() if p.is_file()},
            tables,
        )
    ]


MODEL_DIR = Path(MODEL.stored.path)
BUNDLE_DIGEST = verify_digests(MODEL_DIR)  # refuses a changed file, naming it
# The challenger's digests too; a bad one is logged here and recorded per row, never fatal.
CHALLENGER_CHECK = shadow.Check.of(CHALLENGER_TAG) if CHALLENGER_TAG else None
checked_folder(SETTINGS.core.request_log)
SCHEMA = _stored_schema()
OverrideReason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=2000),
    Field(description="Why the final decision differs from the model's, in the officer's words"),
]
OfficerName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(description="The credit officer who decided"),
]
if TYPE_CHECKING:
    # The models below are built at run time from the stored schema, which mypy cannot read:
    # statically they are pydantic models, and an id is an integer or a string.
    Application = BaseModel
    Score = BaseModel
    Prediction = BaseModel
    Explanation = BaseModel
    ClientIds = list[int | str]
    ApplicantId = int | str
    Applications = list[BaseModel]
    Override = BaseModel
else:
    # Each application remembers its request, so that its decision is recorded only when
    # that request is answered (serving.record).
    Application = record.carrying_pending(SCHEMA.request_model())
    # Answers echo the id under the schema's id column.
    Score, Prediction, Explanation = response_models(SCHEMA.id_column, SCHEMA.id_integer)
    Override = override_model(SCHEMA.id_column, SCHEMA.id_integer)
    ApplicantId = SCHEMA.id_type()
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
        self.request_log = record.open_record(SETTINGS.core.request_log)
        self.bundle_digest = BUNDLE_DIGEST
        self.overrides = OverrideLog(SETTINGS.core.override_log)
        self.log_probe = RequestLogProbe(SETTINGS.core.request_log)
        self.not_ready_because: str | None = None
        self.importance = self.scorer.global_importance()
        self.challenger = (
            None
            if CHALLENGER_CHECK is None
            else shadow.Challenger(CHALLENGER_CHECK, SETTINGS.shadow_share, SCHEMA)
        )
        # The granted applicants' medians, computed once here rather than by the first refusal.
        _ = self.scorer.reference_values
        self.ready = self._warm_up()
        gc_policy.settle()
        _log_event(
            "model_loaded",
            model=self.version,
            bundle_digest=self.bundle_digest,
            request_log=str(SETTINGS.core.request_log),
            auth="api key required" if SETTINGS.api_key else "OPEN: no CREDIT_API_KEY set",
            batching=SETTINGS.batching,
            challenger=None if self.challenger is None else self.challenger.info(),
            **bentoml_fixes.status(),
        )

    def _warm_up(self) -> bool:
        """Score one empty application end to end: ready means able to answer."""
        probability = self.scorer.predict_proba(pd.DataFrame([{}]))
        return bool(np.isfinite(probability).all())

    def __is_ready__(self) -> bool:
        """Ready: the model answered its warm-up and the request log can take rows now; else
        a 503 whose body names the cause."""
        cause = None if self.ready else "the warm-up score was not finite"
        cause = cause or self.log_probe.problem()
        if cause != self.not_ready_because:  # log each change once, not every probe
            _log_event(
                "not_ready" if cause else "ready",
                cause=cause,
                request_log=str(SETTINGS.core.request_log),
            )
            self.not_ready_because = cause
        if cause:
            raise HTTPException(503, detail=f"not ready: {cause}")
        return True

    def _answer(
        self,
        batch: Batch,
        endpoint: str,
        reasons: bool,
        sinks: list[record.Pending | None],
        subset: shadow.Subset,
    ) -> list[Prediction]:
        started = time.perf_counter()
        ids = batch.ids
        built = build_features(batch.applications, SCHEMA, batch.histories)  # for both models
        features = self.scorer.inputs(built)
        if reasons:
            explanation = self.scorer.explanation_of(features)
            probability = explanation.probability
        else:
            probability = self.scorer.probability_of(features)
        decisions = self.scorer.decide(probability)
        points, bands = self.scorer.grade(probability)
        model = Prediction if reasons else Score
        answers = [
            model(
                **{SCHEMA.id_column: ids[i]},
                probability=float(probability[i]),
                decision=decisions[i],
                threshold=self.scorer.threshold,
                points=float(points[i]),
                band=bands[i],
                warnings=batch.warnings[i],
                **({"reasons": self._reasons(explanation, i)} if reasons else {}),
            )
            for i in range(len(batch))
        ]
        recorded = [a.model_dump(mode="json", exclude={SCHEMA.id_column}) for a in answers]
        challengers = self._shadow(batch, built, subset, endpoint)
        self._record(endpoint, batch, recorded, sinks, probability, decisions, challengers, started)
        return answers

    def _shadow(
        self, batch: Batch, built: pd.DataFrame, subset: shadow.Subset, endpoint: str
    ) -> list[dict | None]:
        """The challenger's result per applicant (None: no challenger, or not sampled)."""
        if self.challenger is None:
            return [None] * len(batch)
        return self.challenger.shadow(batch, built, subset, endpoint)

    def _reasons(self, explanation: ScorerExplanation, row: int) -> list[dict]:
        return [asdict(reason) for reason in self.scorer.reasons(explanation, row)]

    def _record(
        self,
        endpoint: str,
        batch: Batch,
        answers: list[dict],
        sinks: list[record.Pending | None],
        probability: np.ndarray,
        decisions: list[Decision],
        challengers: list[dict | None],
        started: float,
    ) -> None:
        """Each applicant's decision to its request's pending list (written once that request
        is answered), or straight to the record when called outside a request."""
        direct: list[LoggedDecision] = []
        for i, sink in enumerate(sinks):
            row = LoggedDecision(
                None,
                endpoint,
                self.version,
                self.bundle_digest,
                self.scorer.threshold,
                batch.ids[i],
                batch.logged[i],
                answers[i],
                challengers[i],
            )
            (direct if sink is None else sink).append(row)
        if direct:
            self.request_log.append(direct)
        for decision in ("granted", "refused"):
            DECISIONS.labels(decision=decision, endpoint=endpoint).inc(decisions.count(decision))
        for p in probability:
            SCORES.labels(endpoint=endpoint).observe(float(p))
        _log_event(
            "scored",
            endpoint=endpoint,
            rows=len(batch),
            refused=decisions.count("refused"),
            # How many were scored with a warning; the values are applicants' data: not logged.
            warned=sum(map(bool, batch.warnings)),
            ms=round(1000 * (time.perf_counter() - started), 2),
        )

    @bentoml.api(**BATCHING)
    def score(self, applications: Applications) -> list[Score]:
        """Probability of default and decision only: the cheapest answer."""
        if not applications:
            return []
        batch, sinks = to_batch(applications, SCHEMA), _sinks(applications)
        return self._answer(batch, "score", False, sinks, _part_of(applications))

    @bentoml.api(**BATCHING)
    def predict(self, applications: Applications) -> list[Prediction]:
        """Probability of default, decision against the cost-optimal threshold, reason codes."""
        if not applications:
            return []
        batch, sinks = to_batch(applications, SCHEMA), _sinks(applications)
        return self._answer(batch, "predict", True, sinks, _part_of(applications))

    @bentoml.api(**BATCHING)
    def explain(self, applications: Applications) -> list[Explanation]:
        """Every feature's SHAP contribution (log-odds) and the base value, per applicant."""
        if not applications:
            return []
        batch = to_batch(applications, SCHEMA)
        return self._explanations(batch, "explain", _sinks(applications), _part_of(applications))

    def _explanations(
        self,
        batch: Batch,
        endpoint: str,
        sinks: list[record.Pending | None],
        subset: shadow.Subset,
    ) -> list[Explanation]:
        started = time.perf_counter()
        built = build_features(batch.applications, SCHEMA, batch.histories)  # for both models
        explanation = self.scorer.explanation_of(self.scorer.inputs(built))
        answers = [
            Explanation(
                **{SCHEMA.id_column: batch.ids[i]},
                probability=float(explanation.probability[i]),
                base_value=float(explanation.base_value[i]),
                contributions=self.scorer.contributions(explanation, i),
            )
            for i in range(len(batch))
        ]
        decisions = self.scorer.decide(explanation.probability)
        # An explanation answers no decision: the record notes the one its probability implies
        # (the drift report's refusal rate reads it), not its every contribution.
        recorded = [
            {
                **a.model_dump(mode="json", exclude={SCHEMA.id_column, "contributions"}),
                "decision": decisions[i],
                "threshold": self.scorer.threshold,
            }
            for i, a in enumerate(answers)
        ]
        challengers = self._shadow(batch, built, subset, endpoint)
        probability = explanation.probability
        self._record(endpoint, batch, recorded, sinks, probability, decisions, challengers, started)
        return answers

    @bentoml.api
    def predict_client(self, client_ids: ClientIds) -> list[Prediction]:
        """Score clients of the reference sample shipped with the model, by the dataset's id
        column."""
        batch = self._reference_batch(client_ids)
        sinks = [record.pending()] * len(batch)  # unbatched: this thread runs in its request
        return self._answer(batch, "predict_client", True, sinks, self._clients_part(client_ids))

    @bentoml.api
    def explain_client(self, client_ids: ClientIds) -> list[Explanation]:
        """Every feature's contribution for clients of the reference sample, by the dataset's
        id column."""
        batch = self._reference_batch(client_ids)
        sinks = [record.pending()] * len(batch)
        return self._explanations(batch, "explain_client", sinks, self._clients_part(client_ids))

    def _clients_part(self, client_ids: list[int | str]) -> shadow.Subset:
        return lambda keep: self._reference_batch([client_ids[i] for i in keep])

    def _reference_batch(self, client_ids: list[int | str]) -> Batch:
        try:
            applications, histories = self.scorer.reference_rows(client_ids)
        except KeyError as error:
            raise bentoml.exceptions.NotFound(str(error.args[0])) from error
        # pandas-stubs leave out None as `other`, which pandas accepts: missing -> None.
        fields = applications.astype(object).where(applications.notna(), None)  # type: ignore[call-overload]
        records = fields.to_dict(orient="records")
        return Batch(applications, histories, client_ids, records, [[] for _ in client_ids])

    @bentoml.api
    def override(
        self,
        applicant_id: ApplicantId,
        decision: Decision,
        reason: OverrideReason,
        officer: OfficerName,
    ) -> Override:
        """Record a credit officer's final decision where it differs from the model's latest
        answer for the applicant; the logged model answer is left as it is."""
        try:
            record = self.overrides.record(
                applicant_id,
                decision,
                reason,
                officer,
                model_answer(SETTINGS.core.request_log, applicant_id),
            )
        except NoModelAnswer as error:
            raise bentoml.exceptions.NotFound(str(error)) from error
        except OverrideRefused as error:
            raise Conflict(str(error)) from error
        _log_event("override_recorded", override_id=record.override_id, decision=decision)
        return Override(
            override_id=record.override_id,
            **{SCHEMA.id_column: record.client_id},
            model_decision=record.model_decision,
            model_version=record.model_version,
            decision=record.decision,
            reason=record.reason,
            officer=record.officer,
            recorded_at=record.recorded_at,
        )

    @bentoml.api
    def outcomes(
        self,
        outcomes: Annotated[
            list[ObservedOutcome], Field(min_length=1, max_length=MAX_OUTCOMES_PER_REQUEST)
        ],
    ) -> OutcomeReceipt:
        """Record observed outcomes of scored applicants (the loan system's key,
        CREDIT_OUTCOMES_KEY): idempotent; unknown ids are answered back, not recorded."""
        sent = [
            outcome_store.Outcome(str(o.applicant_id), o.defaulted, o.observed_on) for o in outcomes
        ]
        try:
            receipt = outcome_store.record(SETTINGS.core.request_log, sent)
        except outcome_store.OutcomeConflict as error:
            raise Conflict(str(error)) from error
        except outcome_store.OutcomeError as error:
            raise bentoml.exceptions.InvalidArgument(str(error)) from error
        _log_event(
            "outcomes_recorded",
            recorded=receipt.recorded,
            unchanged=receipt.unchanged,
            unknown=len(receipt.unknown_ids),
        )
        return OutcomeReceipt(**asdict(receipt))

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
            fairness=_fairness(meta),
            points_scale={k: v for k, v in self.scorer.points.to_dict().items() if k != "cutoffs"},
            bands=self.scorer.points.bands(),
            unseen=SCHEMA.unseen,
            family=self.scorer.model.family,
            families=meta.get("families", {}),
            challenger=None
            if self.challenger is None
            else ChallengerInfo(**self.challenger.info()),
            settings=SETTINGS.reported(),
        )


def _fairness(meta: dict) -> dict:
    """The stored audit with the promotion decision (gate verdict, override) beside it."""
    audit = meta.get("fairness") or {}
    return audit | {"promotion": meta["promotion"]} if "promotion" in meta else audit


class ModelCardMiddleware:
    """``GET /model_card`` answered in front of the API (a mounted app would redirect it to
    ``/model_card/``); everything else passes through."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/model_card" and scope["method"] == "GET":
            return await _model_card(Request(scope))(scope, receive, send)
        return await self.app(scope, receive, send)


def _model_card(request: Request) -> Response:
    """The served model's card, HTML (``?format=markdown`` for Markdown)."""
    markdown = request.query_params.get("format") == "markdown"
    path = Path(MODEL.stored.path, CARD_MD if markdown else CARD_HTML)
    if not path.is_file():
        return JSONResponse(
            {"error": "the served model has no model card: retrain and promote it"}, 404
        )
    text = path.read_text("utf-8")
    return PlainTextResponse(text, media_type="text/markdown") if markdown else HTMLResponse(text)


def _part_of(applications: list[Application]) -> shadow.Subset:
    """Rebuilds the batch of some of these applications (the challenger's sample)."""
    return lambda keep: to_batch([applications[i] for i in keep], SCHEMA)


def _sinks(applications: list[Application]) -> list[record.Pending | None]:
    """Where each application's decision waits: the pending list of the request it came in."""
    return [record.pending_of(a) for a in applications]


class Conflict(bentoml.exceptions.BentoMLException):
    """A valid request that contradicts the record (an override repeating the model): 409."""

    error_code = HTTPStatus.CONFLICT


def _log_event(event: str, **fields: object) -> None:
    """Structured log: one JSON object per line, easy to ship and query."""
    log.info(json.dumps({"event": event, "pid": os.getpid(), **fields}, default=str))


# @bentoml.service made CreditScoring a bentoml.Service, which has add_asgi_middleware; mypy
# does not apply class decorators and still sees the plain class.
CreditScoring.add_asgi_middleware(BodySizeLimitMiddleware, max_bytes=MAX_BODY_BYTES)  # type: ignore[attr-defined]
CreditScoring.add_asgi_middleware(JsonContentTypeMiddleware)  # type: ignore[attr-defined]
CreditScoring.add_asgi_middleware(ModelCardMiddleware)  # type: ignore[attr-defined]
CreditScoring.add_asgi_middleware(record.RecordAnswered, path=SETTINGS.core.request_log)  # type: ignore[attr-defined]
if SETTINGS.api_key:
    CreditScoring.add_asgi_middleware(BearerTokenMiddleware, token=SETTINGS.api_key)  # type: ignore[attr-defined]
if SETTINGS.outcomes_key:
    CreditScoring.add_asgi_middleware(  # type: ignore[attr-defined]
        BearerTokenMiddleware,
        token=SETTINGS.outcomes_key,
        guarded=outcomes_path,
        what="outcomes key",
    )
else:
    CreditScoring.add_asgi_middleware(  # type: ignore[attr-defined]
        ClosedPathMiddleware,
        closed=outcomes_path,
        message="outcomes are not accepted: the server has no CREDIT_OUTCOMES_KEY",
    )
if SETTINGS.metrics_token:
    CreditScoring.add_asgi_middleware(  # type: ignore[attr-defined]
        BearerTokenMiddleware,
        token=SETTINGS.metrics_token,
        guarded=metrics_path,
        what="metrics token",
    )


def _spec() -> dict:
    """The OpenAPI spec as this service answers (see serving.docs)."""
    stock = CreditScoring.openapi_spec.asdict()  # type: ignore[attr-defined]
    return amend_spec(stock, bool(SETTINGS.api_key), bool(SETTINGS.metrics_token))


CreditScoring.add_asgi_middleware(DocsMiddleware, spec=_spec)  # type: ignore[attr-defined]
