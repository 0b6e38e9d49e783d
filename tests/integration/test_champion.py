"""A new model replaces the champion only when it is better on the same evaluation: the
champion is re-scored on the new run's hold-out (a real MLflow store, a real scorer bundle)
and the comparison is recorded on the new run."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import mlflow
import pytest

from credit_scoring.core.cost import CostMatrix
from credit_scoring.core.models import LightGBMModel
from credit_scoring.core.scorer import Scorer
from credit_scoring.own_table.examples import few_columns
from credit_scoring.own_table.table import load_own
from credit_scoring.pipeline import report
from credit_scoring.pipeline.registry import CHAMPION, champion_run_id, crown_if_better
from credit_scoring.pipeline.settings import PipelineSettings
from credit_scoring.pipeline.tracking import SCORER_ARTIFACT, use_experiment
from credit_scoring.pipeline.train import Clock, TrainOptions, champion_on_holdout, split

pytestmark = pytest.mark.integration
COSTS = CostMatrix(fn_cost=4, fp_cost=1)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """An MLflow SQLite store (one per module: creating one takes seconds), the loans table
    split with seed 5, and a champion trained on another split (seed 1): a hold-out of its
    own that the new run's is not."""
    tmp_path = tmp_path_factory.mktemp("champion")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
        patch.setenv("CREDIT_MLFLOW_DIR", str(tmp_path / "mlflow"))
        yield _champion(tmp_path)


def _champion(tmp_path: Path):
    experiment = use_experiment(PipelineSettings())
    few_columns(600).to_csv(tmp_path / "loans.csv", index=False)
    dataset = load_own(tmp_path / "loans.csv", "status", "loan_ref", "bad")
    champion_part = split(dataset, TrainOptions(seed=1), Clock())
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 4, "verbosity": -1},
        lgb.Dataset(champion_part.x_train, champion_part.y_train),
        num_boost_round=20,
    )
    champion = Scorer(LightGBMModel(booster), 0.3, dataset.schema, COSTS)
    run_id = log_run(experiment, champion, {"test_cost_per_client": 0.1})
    return experiment, dataset, split(dataset, TrainOptions(seed=5), Clock()), champion, run_id


@pytest.fixture
def model(store, request) -> str:
    """A registered model of its own per test, whose champion is the store's champion run."""
    name = f"credit-scoring.{request.node.name[:40]}"
    client = mlflow.MlflowClient()
    client.create_registered_model(name)
    run_id = store[-1]
    version = client.create_model_version(name, f"runs:/{run_id}/{SCORER_ARTIFACT}", run_id)
    client.set_registered_model_alias(name, CHAMPION, version.version)
    return name


def log_run(experiment: str, scorer: Scorer, metrics: dict[str, float]) -> str:
    with mlflow.start_run(experiment_id=experiment) as run, tempfile.TemporaryDirectory() as tmp:
        scorer.save(Path(tmp) / SCORER_ARTIFACT)
        mlflow.log_artifacts(str(Path(tmp) / SCORER_ARTIFACT), artifact_path=SCORER_ARTIFACT)
        mlflow.log_metrics(metrics)
    return run.info.run_id


def challenge(
    model: str, experiment, dataset, part, champion: Scorer, cost: float
) -> tuple[str, bool]:
    """A new run with this hold-out cost per client, registered and compared."""
    run_id = log_run(experiment, champion, {"test_cost_per_client": cost})
    version = mlflow.MlflowClient().create_model_version(model, "runs:/x/scorer", run_id)

    def rescore(run: str):
        return champion_on_holdout(run, dataset, part, COSTS)

    return run_id, crown_if_better(model, version.version, run_id, rescore)


def test_the_champion_is_rescored_on_the_new_hold_out_and_the_comparison_recorded(store, model):
    experiment, dataset, part, champion, champion_run = store
    rows = dataset.applications.loc[part.test_index]
    expected = report.metrics_at(part.y_test, champion.predict_proba(rows), 0.3, COSTS)
    # The champion recorded 0.1 per client on its own hold-out: a challenger at 0.2 would
    # lose against that figure, but on this hold-out the champion costs more.
    assert expected["cost_per_client"] > 0.2
    run_id, crowned = challenge(model, experiment, dataset, part, champion, 0.2)
    assert crowned and champion_run_id(model) == run_id
    recorded = mlflow.MlflowClient().get_run(run_id).data
    assert recorded.metrics["champion_test_cost_per_client"] == pytest.approx(
        expected["cost_per_client"]
    )
    assert recorded.metrics["champion_test_roc_auc"] == pytest.approx(expected["roc_auc"])
    assert recorded.tags["champion_run_id"] == champion_run
    assert recorded.tags["champion_comparison"].startswith("crowned: cost/client 0.2000 vs")
    # Now the champion is the new run; a worse one is compared and leaves it in place.
    loser, crowned = challenge(model, experiment, dataset, part, champion, 5.0)
    assert not crowned and champion_run_id(model) == run_id
    verdict = mlflow.MlflowClient().get_run(loser).data.tags["champion_comparison"]
    assert verdict.startswith("champion stays: cost/client 5.0000 vs")


def test_a_champion_that_cannot_score_the_new_rows_gives_way(store, model):
    experiment, dataset, _, champion, champion_run = store
    # The table lost a column since the champion was trained: it cannot score the new rows.
    fewer = replace(dataset.schema, fields=dataset.schema.fields[:2])
    thinner = replace(dataset, schema=fewer)
    part = split(thinner, TrainOptions(seed=5), Clock())
    assert champion_on_holdout(champion_run, thinner, part, COSTS) is None
    run_id, crowned = challenge(model, experiment, thinner, part, champion, 9.0)
    assert crowned and champion_run_id(model) == run_id
    verdict = mlflow.MlflowClient().get_run(run_id).data.tags["champion_comparison"]
    assert verdict == "crowned: the champion cannot score this run's hold-out"
