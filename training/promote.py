"""Promote: the best MLflow run by business cost -> the BentoML model store.

The run's ``scorer`` artifact (LightGBM model, threshold, input schema, reference sample,
metrics) is copied as it is into a new BentoML model version, labelled with its run id.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import bentoml
import mlflow
import typer

from credit_scoring.scorer import Scorer
from credit_scoring.settings import get_settings
from training.tracking import CANDIDATE_TAG, SCORER_ARTIFACT, use_experiment

log = logging.getLogger("promote")
app = typer.Typer(add_completion=False, help=__doc__)
RANKING = ["metrics.test_cost_per_client ASC", "metrics.test_roc_auc DESC"]


def best_run_id() -> str:
    settings = get_settings()
    experiment_id = use_experiment(settings)
    runs = mlflow.search_runs(
        [experiment_id],
        filter_string=f"tags.{CANDIDATE_TAG} = 'true' and attributes.status = 'FINISHED'",
        order_by=RANKING,
        max_results=1,
    )
    if runs.empty:
        raise typer.BadParameter(
            f"no finished training run in experiment {settings.experiment_name!r} at "
            f"{settings.mlflow_tracking_uri}: run `make train` first"
        )
    return str(runs.iloc[0]["run_id"])


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
            module="credit_scoring.scorer",
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
    """Import the best run (lowest business cost on the hold-out set) into BentoML."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    get_settings()
    chosen = run_id or best_run_id()
    model = promote(chosen)
    log.info("promoted MLflow run %s as BentoML model %s", chosen, model.tag)


if __name__ == "__main__":
    app()
