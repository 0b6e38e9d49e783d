"""Promote: a dataset's ``champion`` version in the MLflow registry -> the BentoML model store.

The champion's run holds a ``scorer`` artifact (its family's model, threshold, calibration,
input schema, reference sample and its history rows, metrics), copied as it is into a new BentoML
model version labelled with its run id. A run id promotes that run instead.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import bentoml
import mlflow
from mlflow.exceptions import MlflowException

from credit_scoring.core.scorer import Scorer
from credit_scoring.pipeline.registry import champion_run_id, newest_model
from credit_scoring.pipeline.settings import PipelineSettings
from credit_scoring.pipeline.tracking import SCORER_ARTIFACT, use_experiment

log = logging.getLogger("promote")


class PromoteError(RuntimeError):
    """Nothing to promote: no champion, or a run id the store does not know."""


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


def promote(settings: PipelineSettings, run_id: str) -> bentoml.Model:
    """Copy a run's scorer bundle into the BentoML store under ``CREDIT_MODEL_NAME``."""
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
        metrics = scorer.metadata.get("metrics", {})
        with bentoml.models.create(
            settings.core.model_name,
            module="credit_scoring.core.scorer",
            labels={"mlflow_run_id": run_id, "framework": scorer.model.family},
            metadata={
                "threshold": scorer.threshold,
                "mlflow_run_id": run_id,
                **{k: float(v) for k, v in metrics.items()},
            },
        ) as model:
            scorer.save(Path(model.path))
    return model
