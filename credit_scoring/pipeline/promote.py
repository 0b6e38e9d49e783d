"""Promote: the MLflow registry's ``champion`` version -> the BentoML model store.

The champion's run holds a ``scorer`` artifact (LightGBM model, threshold, calibration, input
schema, reference sample and its history rows, metrics), copied as it is into a new BentoML
model version labelled with its run id. ``--run-id`` promotes another run instead.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import bentoml
import mlflow
import typer

from credit_scoring.core.scorer import Scorer
from credit_scoring.pipeline.registry import champion_run_id
from credit_scoring.pipeline.tracking import SCORER_ARTIFACT, use_experiment
from credit_scoring.settings import get_settings

log = logging.getLogger("promote")
app = typer.Typer(add_completion=False, help=__doc__)


def best_run_id() -> str:
    """The run of the registered model version aliased ``champion``."""
    settings = get_settings()
    use_experiment(settings)
    run_id = champion_run_id(settings)
    if run_id is None:
        raise typer.BadParameter(
            f"no finished training run registered as {settings.model_name}@champion at "
            f"{settings.mlflow_tracking_uri}: run `make train` first"
        )
    return run_id


def promote(run_id: str) -> bentoml.Model:
    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        folder = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=SCORER_ARTIFACT, dst_path=tmp
        )
        scorer = Scorer.load(Path(folder))  # validates the bundle before it enters the store
        metrics = scorer.metadata.get("metrics", {})
        with bentoml.models.create(
            settings.model_name,
            module="credit_scoring.core.scorer",
            labels={"mlflow_run_id": run_id, "framework": "lightgbm"},
            metadata={
                "threshold": scorer.threshold,
                "mlflow_run_id": run_id,
                **{k: float(v) for k, v in metrics.items()},
            },
        ) as model:
            scorer.save(Path(model.path))
    return model


@app.command()
def main(
    run_id: str = typer.Option(None, help="Promote this run instead of the best one"),
) -> None:
    """Import the champion (or the run given) into BentoML."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    get_settings()
    chosen = run_id or best_run_id()
    model = promote(chosen)
    log.info("promoted MLflow run %s as BentoML model %s", chosen, model.tag)


if __name__ == "__main__":
    app()
