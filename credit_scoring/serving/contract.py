"""Response models of the API. The request model is built from the stored input schema.

The answers echo the applicant id under the served schema's id column: the classes below hold
it as ``ID_PLACEHOLDER``, which ``response_models`` renames and retypes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

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


class Prediction(Score):
    top_features: list[Contribution] = Field(
        description="Reason codes: the features that moved this score most, largest first"
    )


class Explanation(BaseModel):
    applicant_id: int | None = None
    probability: float = Field(ge=0, le=1)
    base_value: float = Field(description="Expected log-odds over the training data")
    contributions: list[Contribution] = Field(
        description="Every feature's SHAP contribution; base_value + sum = the model's log-odds"
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


def _with_id(model: type[BaseModel], id_column: str, id_type: type) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name == ID_PLACEHOLDER:
            fields[id_column] = (id_type | None, Field(default=None, description=info.description))
        else:
            fields[name] = (info.annotation, info)
    return create_model(model.__name__, __doc__=model.__doc__, **fields)
