"""MLflow set-up: the tracking store and the experiment, with artifacts in a known folder."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from credit_scoring.core.scorer import Scorer
from credit_scoring.pipeline.settings import PipelineSettings

CANDIDATE_TAG = "candidate"  # parent runs that hold a complete, promotable scorer
SCORER_ARTIFACT = "scorer"  # the artifact folder promote imports into BentoML
# MLflow 3's UI shows an experiment by its kind: without the tag it asks, or guesses from the
# first runs; this one makes it open on the runs table (trials nested under their search run).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def use_experiment(settings: PipelineSettings) -> str:
    """Point MLflow at the settings' store and return the experiment id (created if needed)."""
    if settings.tracking_uri.startswith("sqlite:///"):
        Path(settings.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    mlflow.set_tracking_uri(settings.tracking_uri)
    experiment = mlflow.get_experiment_by_name(settings.experiment)
    if experiment is not None:
        return experiment.experiment_id
    settings.artifact_dir.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(
        settings.experiment, artifact_location=settings.artifact_dir.as_uri(), tags=EXPERIMENT_KIND
    )


class ScorerModel(PythonModel):
    """A scorer bundle as an MLflow pyfunc model (applications -> probability of default), so
    that every family, not only LightGBM, is a version of the registered model."""

    def load_context(self, context: PythonModelContext) -> None:
        self.scorer = Scorer.load(Path(context.artifacts[SCORER_ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return self.scorer.predict_proba(model_input)


def log_scorer_model(scorer: Scorer, registered_model_name: str) -> Any:
    """Log (and register) the scorer bundle as the run's ``model``; returns MLflow's info."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / SCORER_ARTIFACT
        scorer.save(folder)
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=ScorerModel(),
            artifacts={SCORER_ARTIFACT: str(folder)},
            registered_model_name=registered_model_name,
            # Stated, not inferred: inferring loads the model and traces its imports (~1 min).
            pip_requirements=["credit-scoring-bento"],
        )
