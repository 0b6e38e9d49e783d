"""Promote: a dataset's ``champion`` version in the MLflow registry -> the BentoML model store.

The champion's run holds a ``scorer`` artifact (its family's model, threshold, calibration,
input schema, reference sample and its history rows, metrics), copied as it is into a new BentoML
model version labelled with its run id and the SHA-256 of its files (``digests.json``, checked
by the service at load). A run id promotes that run instead.

Every promotion passes the fairness gate (``pipeline.fairness.verdict`` on the audit stored
with the run) or is an explicit override: a written justification and the reviewer's name,
recorded with the model (``scorer.json`` ``promotion``), in the run and in the model card.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bentoml
import mlflow
from mlflow.exceptions import MlflowException

from credit_scoring.core.scorer import Scorer, write_digests
from credit_scoring.pipeline import model_card
from credit_scoring.pipeline.fairness import GateBounds, verdict
from credit_scoring.pipeline.registry import champion_run_id, newest_model
from credit_scoring.pipeline.settings import PipelineSettings
from credit_scoring.pipeline.tracking import SCORER_ARTIFACT, use_experiment

log = logging.getLogger("promote")


class PromoteError(RuntimeError):
    """Nothing to promote (no champion, a run id the store does not know), or the fairness
    gate refuses the model and no override was given."""


@dataclass(frozen=True)
class Override:
    """A reviewer's decision to promote a model the fairness gate refuses."""

    justification: str
    reviewer: str

    @classmethod
    def given(cls, justification: str | None, reviewer: str | None) -> Override | None:
        """The override when both are given; one without the other is a mistake."""
        if not justification and not reviewer:
            return None
        if not (justification and justification.strip() and reviewer and reviewer.strip()):
            raise PromoteError("an override needs both --justification TEXT and --reviewer NAME")
        return cls(justification.strip(), reviewer.strip())


def gate(
    scorer: Scorer, run_id: str, bounds: GateBounds, override: Override | None
) -> dict[str, Any]:
    """The promotion record: the gate's verdict on the stored audit, and the override when
    one was needed. Raises PromoteError naming each failing group and figure."""
    audit = scorer.metadata.get("fairness") or {}
    checked = verdict(audit, bounds)
    if not audit:
        checked["note"] = "no protected attribute declared: nothing audited"
    if not checked["passed"] and override is None:
        raise PromoteError(
            f"fairness gate refuses run {run_id}: {'; '.join(checked['failures'])}. "
            "Choose another model, or promote anyway with --justification TEXT --reviewer NAME"
        )
    record: dict[str, Any] = {
        "gate": checked,
        "decision": "passed" if checked["passed"] else "overridden",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if override is not None:
        record |= {"justification": override.justification, "reviewer": override.reviewer}
    return record


def champion_of(settings: PipelineSettings, dataset: str | None = None) -> str:
    """The run of the ``champion`` version of a dataset's registered model (default: the
    dataset whose model has the newest version)."""
    use_experiment(settings)
    if dataset:
        model: str | None = settings.registered_model(dataset)
    else:
        model = newest_model(settings.registry_prefix)
    run_id = champion_run_id(model) if model else None
    if run_id is None:
        raise PromoteError(
            f"no finished training run registered as {model or settings.registry_prefix + '.*'}"
            f"@champion at {settings.tracking_uri}: run `credit-scoring train` first"
        )
    if not dataset:
        log.info("dataset of the newest registered version: %s", model)
    return run_id


def promote(
    settings: PipelineSettings,
    run_id: str,
    bounds: GateBounds | None = None,
    override: Override | None = None,
) -> bentoml.Model:
    """Copy a run's scorer bundle into the BentoML store under ``CREDIT_MODEL_NAME``, once
    the fairness gate passes or is overridden; the card is rewritten with the decision."""
    use_experiment(settings)  # the project's store, with or without --run-id
    try:
        mlflow.MlflowClient().get_run(run_id)
    except MlflowException as error:
        raise PromoteError(f"no run {run_id} in {settings.tracking_uri}") from error
    with tempfile.TemporaryDirectory() as tmp:
        folder = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=SCORER_ARTIFACT, dst_path=tmp
        )
        scorer = Scorer.load(Path(folder))  # validates the bundle before it enters the store
        record = gate(scorer, run_id, bounds or GateBounds(), override)
        scorer.metadata["promotion"] = record
        metrics = scorer.metadata.get("metrics", {})
        with bentoml.models.create(
            settings.core.model_name,
            module="credit_scoring.core.scorer",
            labels={
                "mlflow_run_id": run_id,
                "framework": scorer.model.family,
                "fairness_gate": record["decision"],
            },
            metadata={
                "threshold": scorer.threshold,
                "mlflow_run_id": run_id,
                **{k: float(v) for k, v in metrics.items()},
            },
        ) as model:
            scorer.save(Path(model.path))
            model_card.write(Path(model.path), scorer, str(model.tag))
            # Checked by the service before it loads the bundle: a changed file is refused.
            model.info.labels["bundle_sha256"] = write_digests(Path(model.path))
            _record_in_run(run_id, record, Path(model.path))
    if record["decision"] == "overridden":
        log.warning(
            "fairness gate overridden by %s: %s",
            record["reviewer"],
            "; ".join(record["gate"]["failures"]),
        )
    return model


def _record_in_run(run_id: str, record: dict[str, Any], folder: Path) -> None:
    """The promotion decision and the promoted card, in the training run."""
    client = mlflow.MlflowClient()
    client.log_dict(run_id, record, "promotion/promotion.json")
    for name in (model_card.CARD_MD, model_card.CARD_HTML):
        client.log_artifact(run_id, str(folder / name), artifact_path="promotion")
    client.set_tag(run_id, "promotion_fairness_gate", record["decision"])
