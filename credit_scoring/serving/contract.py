"""Response models of the API. The request model is built from the stored input schema.

The answers echo the applicant id under the served schema's id column: the classes below hold
it as ``ID_PLACEHOLDER``, which ``response_models`` renames and retypes."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

ID_PLACEHOLDER = "applicant_id"


class Contribution(BaseModel):
    feature: str = Field(description="Model feature")
    value: float | str | None = Field(description="The applicant's value (null when missing)")
    contribution: float = Field(
        description="Contribution to the log-odds of default (TreeSHAP for LightGBM, "
        "coefficient x centred value for the linear families)"
    )


class Score(BaseModel):
    applicant_id: int | None = Field(default=None, description="Echo of the applicant id, if given")
    probability: float = Field(ge=0, le=1, description="Predicted probability of default")
    decision: Literal["granted", "refused"] = Field(
        description="refused when probability >= threshold"
    )
    threshold: float = Field(description="Decision threshold that minimises the business cost")
    points: float = Field(
        description="Scorecard points of the probability (more points, less risk; the scale "
        "is /metadata's points_scale)"
    )
    band: str = Field(description="Risk band of the points, A the best (/metadata's bands)")
    warnings: list[str] = Field(
        default_factory=list,
        description="What was not scored as sent, e.g. a category unseen in training, scored "
        "as missing",
    )


class Reason(BaseModel):
    """One principal reason of a refusal (adverse action), in the catalogue's words."""

    reason: str = Field(description="Plain statement, e.g. 'Low external credit scores'")
    feature: str = Field(description="The model feature that pushed most within this reason")
    value: float | str = Field(description="The applicant's value of that feature, in `unit`")
    reference: float | str | None = Field(
        description="Median of that feature among the reference applicants the model grants"
    )
    unit: str = Field(description="years, years ago, %, currency, count, days, ...; '' = as sent")
    contribution: float = Field(
        gt=0, description="Summed log-odds contribution of the reason's features (> 0)"
    )
    features: list[str] = Field(
        description="The reason's features that pushed towards refusal, strongest first"
    )


class Prediction(Score):
    reasons: list[Reason] = Field(
        description="Refused: at most four principal reasons, strongest first (only what "
        "pushed towards refusal; never a missing value or a protected attribute). Granted: "
        "none. Every feature's contribution is in /explain."
    )


class Override(BaseModel):
    """A credit officer's final decision where it differs from the model's, as recorded."""

    override_id: int = Field(description="Number of the override in the override log")
    applicant_id: int | None = Field(default=None, description="The applicant overridden")
    model_decision: Literal["granted", "refused"] = Field(
        description="The model's latest logged answer for the applicant (left unchanged)"
    )
    model_version: str = Field(description="The model that gave that answer")
    decision: Literal["granted", "refused"] = Field(description="The final decision")
    reason: str
    officer: str
    recorded_at: float = Field(description="Unix time")


class Explanation(BaseModel):
    applicant_id: int | None = None
    probability: float = Field(ge=0, le=1)
    base_value: float = Field(description="Expected log-odds over the training data")
    contributions: list[Contribution] = Field(
        description="Every feature's SHAP contribution; base_value + sum = the model's log-odds"
    )


class FieldError(BaseModel):
    """One reason a request was refused, as pydantic reports it."""

    type: str = Field(description="pydantic's error type, e.g. extra_forbidden, less_than_equal")
    loc: list[str | int] = Field(
        description="Where: the request's keys and list positions, e.g. applications, 0, FIELD"
    )
    msg: str = Field(description="What is wrong, in words")
    url: str | None = Field(default=None, description="pydantic's page on this error type")


class BadRequest(BaseModel):
    """A 400: the request does not fit the request model; every bad field is listed."""

    error: str = Field(description="How many errors, e.g. '3 validation error for Input'")
    detail: list[FieldError]


class ErrorMessage(BaseModel):
    """Any other refusal (401, 404, 413, 415): one message saying what to change."""

    error: str


class ChallengerInfo(BaseModel):
    model_tag: str = Field(description="BentoML model name:version of the challenger")
    family: str | None = Field(description="Its model family (None: its bundle is unusable)")
    threshold: float | None
    mlflow_run_id: str | None
    bundle_digest: str | None = Field(description="SHA-256 of its bundle's digests manifest")
    shadow_share: float = Field(description="Share of applicants it also scores (by id hash)")
    error: str | None = Field(
        description="Why it cannot score (its bundle failed its check or load); None when it can"
    )


class ModelInfo(BaseModel):
    model_tag: str = Field(description="BentoML model name:version")
    mlflow_run_id: str | None
    threshold: float
    costs: dict[str, float] = Field(description="Business cost of each error type")
    metrics: dict[str, float] = Field(description="Training metrics (hold-out, validation)")
    features: list[str] = Field(description="Model features, in model order")
    input_fields: list[str] = Field(description="Raw application fields the API accepts")
    id_column: str = Field(description="Field that echoes the applicant id in every answer")
    dataset: str = Field(description="Input schema: home-credit, or the name of a user's table")
    reference_clients: int = Field(description="Clients that can be scored by id")
    global_importance: dict[str, float] = Field(
        description="Mean |contribution| per feature over the reference sample"
    )
    family: str = Field(description="Model family served: lightgbm, logistic or scorecard")
    families: dict[str, dict[str, float]] = Field(
        description="Each family's repeated-CV figures on the shared folds (cv_auc_mean, "
        "cv_auc_std, cv_logloss_mean, cv_logloss_se)"
    )
    fairness: dict[str, Any] = Field(
        default_factory=dict,
        description="Fairness audit at the threshold (per protected attribute and group, with "
        "95% intervals), proxy check, price of exclusion, alternatives, gate verdict and the "
        "promotion decision; {} when no attribute is protected",
    )
    points_scale: dict[str, float] = Field(
        description="Points at good:bad odds (points, odds) and points to double the odds (pdo)"
    )
    bands: list[dict[str, float | str | None]] = Field(
        description="Risk bands, best first: points range and highest probability of default"
    )
    unseen: str = Field(
        description="A category unseen in training: 'missing' (scored as missing, with a "
        "warning) or 'reject' (400)"
    )
    challenger: ChallengerInfo | None = Field(
        None,
        description="The model scored in shadow beside this one (answers never come from "
        "it; its results go to the decision record); null when none is served",
    )
    settings: dict[str, str | None] = Field(
        default_factory=dict,
        description="The server's effective settings by environment variable (CREDIT_WORKERS, "
        "CREDIT_REQUEST_LOG, ...), as text; secrets only as 'set' or null",
    )


def response_models(
    id_column: str, id_integer: bool = True
) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel]]:
    """The answers with the id echoed under the served schema's id column (``loan_id``...):
    copies of the classes above with that one field renamed and retyped, in first place, so
    answers read the same for every dataset. (Copies, not subclasses: statically they are
    only pydantic models.)"""
    id_type = int if id_integer else str
    return (
        _with_id(Score, id_column, id_type),
        _with_id(Prediction, id_column, id_type),
        _with_id(Explanation, id_column, id_type),
    )


class ObservedOutcome(BaseModel):
    """What the loan system observed for a scored applicant, once final."""

    model_config = ConfigDict(extra="forbid")

    applicant_id: int | str = Field(description="The applicant's id, as it was scored")
    defaulted: bool = Field(description="Defaulted within the performance window")
    observed_on: date = Field(description="Date the outcome was observed (not in the future)")


class OutcomeReceipt(BaseModel):
    recorded: int = Field(description="Outcomes newly recorded")
    unchanged: int = Field(description="Outcomes already recorded identically (idempotent)")
    unknown_ids: list[str] = Field(
        description="Ids the decision record never scored: not recorded, check and resend"
    )


def override_model(id_column: str, id_integer: bool = True) -> type[BaseModel]:
    """The override answer with the applicant id under the served schema's id column."""
    return _with_id(Override, id_column, int if id_integer else str)


def _with_id(model: type[BaseModel], id_column: str, id_type: type) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name == ID_PLACEHOLDER:
            fields[id_column] = (id_type | None, Field(default=None, description=info.description))
        else:
            fields[name] = (info.annotation, info)
    return create_model(model.__name__, __doc__=model.__doc__, **fields)
