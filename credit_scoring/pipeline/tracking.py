"""MLflow set-up: the tracking store and the experiment, with artifacts in a known folder."""

from __future__ import annotations

import mlflow

from credit_scoring.settings import Settings

CANDIDATE_TAG = "candidate"  # parent runs that hold a complete, promotable scorer
SCORER_ARTIFACT = "scorer"  # the artifact folder promote imports into BentoML


def use_experiment(settings: Settings) -> str:
    """Point MLflow at the settings' store and return the experiment id (created if needed)."""
    if settings.mlflow_tracking_uri.startswith("sqlite:///"):
        db_path = settings.mlflow_tracking_uri.removeprefix("sqlite:///")
        from pathlib import Path

        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    experiment = mlflow.get_experiment_by_name(settings.experiment_name)
    if experiment is not None:
        return experiment.experiment_id
    settings.mlflow_artifact_dir.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(
        settings.experiment_name, artifact_location=settings.mlflow_artifact_dir.as_uri()
    )
