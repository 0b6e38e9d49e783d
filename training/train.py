"""Train: load data, build features, search LightGBM by business cost, log all to MLflow."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import pandas as pd
import typer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from credit_scoring.cost import CostMatrix
from credit_scoring.features import build_features, categorical_features
from credit_scoring.schema import home_credit_schema
from credit_scoring.scorer import Scorer
from credit_scoring.settings import get_settings
from training import report, search
from training.data import DataError, load_dataset
from training.tracking import CANDIDATE_TAG, SCORER_ARTIFACT, use_experiment

log = logging.getLogger("training")
app = typer.Typer(add_completion=False, help=__doc__)
REFERENCE_ROWS = 2000  # raw rows shipped with the model: drift reference and scoring by id


def _fingerprint(table: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(table, index=False).values).hexdigest()[:16]


@app.command()
def main(
    rows: int = typer.Option(20_000, help="Synthetic clients to generate (ignored for real data)"),
    trials: int = typer.Option(4, help="Hyper-parameter configurations to try"),
    max_trees: int = typer.Option(400, help="Upper bound on boosting rounds (early stopping)"),
    seed: int = typer.Option(0, help="Seed for data, split and search"),
    source: str = typer.Option("auto", help="auto (real file if present), real or synthetic"),
    fn_cost: float = typer.Option(10.0, help="Cost of granting a loan to a defaulter"),
    fp_cost: float = typer.Option(1.0, help="Cost of refusing a client who would repay"),
) -> None:
    """Train and log one MLflow run (with a nested run per configuration)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    settings = get_settings()
    costs = CostMatrix(fn_cost=fn_cost, fp_cost=fp_cost)
    started = time.perf_counter()
    try:
        dataset = load_dataset(settings, source, rows, seed)  # type: ignore[arg-type]
    except DataError as error:
        raise typer.BadParameter(str(error)) from error
    table = dataset.applications
    log.info(
        "data: %s (%d clients, default rate %.2f%%)",
        dataset.source,
        len(table),
        100 * table.TARGET.mean(),
    )

    schema = home_credit_schema()
    features = build_features(table, schema)
    y = table[schema.target_column]
    idx_train, idx_test = train_test_split(
        table.index, test_size=0.2, stratify=y, random_state=seed
    )
    idx_fit, idx_valid = train_test_split(
        idx_train, test_size=0.2, stratify=y[idx_train], random_state=seed
    )
    log.info(
        "features: %d columns; split fit/valid/test = %d/%d/%d",
        features.shape[1],
        len(idx_fit),
        len(idx_valid),
        len(idx_test),
    )

    experiment_id = use_experiment(settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name="lightgbm-search") as run:
        fitted: list[search.Fitted] = []
        for i, config in enumerate(search.sample_configs(trials, seed), start=1):
            with mlflow.start_run(experiment_id=experiment_id, run_name=f"trial-{i}", nested=True):
                result = search.fit(
                    config,
                    (features.loc[idx_fit], y[idx_fit]),
                    (features.loc[idx_valid], y[idx_valid]),
                    categorical_features(schema),
                    max_trees,
                    seed,
                    costs,
                )
                mlflow.log_params(config)
                mlflow.log_metrics(
                    {
                        "valid_roc_auc": result.valid_auc,
                        "valid_cost_per_client": result.choice.cost_per_client,
                        "threshold": result.choice.threshold,
                        "trees": result.booster.num_trees(),
                    }
                )
            fitted.append(result)
            log.info(
                "trial %d/%d: valid AUC %.4f, cost/client %.4f, %d trees  %s",
                i,
                trials,
                result.valid_auc,
                result.choice.cost_per_client,
                result.booster.num_trees(),
                config,
            )
        best = min(fitted, key=lambda f: f.choice.cost_per_client)

        test_rows = table.loc[idx_test]
        reference = table.loc[idx_train].sample(
            min(REFERENCE_ROWS, len(idx_train)), random_state=seed
        )
        scorer = Scorer(best.booster, best.choice.threshold, schema, costs, reference=reference)
        test = report.holdout_metrics(scorer, test_rows, y[idx_test])
        metrics = {f"test_{k}": v for k, v in test.items()} | {
            "valid_roc_auc": best.valid_auc,
            "valid_cost_per_client": best.choice.cost_per_client,
            "threshold": best.choice.threshold,
        }
        if dataset.true_probability is not None:
            metrics["bayes_roc_auc"] = roc_auc_score(
                y[idx_test], dataset.true_probability[idx_test]
            )
        scorer.metadata = {
            "mlflow_run_id": run.info.run_id,
            "metrics": metrics,
            "params": best.config,
            "data": {
                "source": dataset.source,
                "rows": len(table),
                "sha256_16": _fingerprint(table),
            },
        }

        mlflow.log_params(
            best.config
            | {
                "max_trees": max_trees,
                "fn_cost": fn_cost,
                "fp_cost": fp_cost,
                "rows": len(table),
                "seed": seed,
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {
                CANDIDATE_TAG: "true",
                "data_source": dataset.source,
                "data_sha256_16": scorer.metadata["data"]["sha256_16"],
            }
        )
        mlflow.lightgbm.log_model(best.booster, name="model")
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / SCORER_ARTIFACT
            scorer.save(folder)
            mlflow.log_artifacts(str(folder), artifact_path=SCORER_ARTIFACT)
        mlflow.log_dict(json.loads(schema.to_json()), "input_schema.json")
        mlflow.log_dict({"features": scorer.feature_names}, "feature_names.json")
        sample = test_rows.sample(min(1000, len(test_rows)), random_state=seed)
        figure = report.shap_importance_figure(scorer, sample)
        mlflow.log_figure(figure, "shap_global_importance.png")
        plt.close(figure)

    log.info(
        "run %s: test AUC %.4f (Bayes AUC %s), cost/client %.4f at threshold %.3f; %.0f s",
        run.info.run_id,
        test["roc_auc"],
        f"{metrics['bayes_roc_auc']:.4f}" if "bayes_roc_auc" in metrics else "n/a",
        test["cost_per_client"],
        scorer.threshold,
        time.perf_counter() - started,
    )


if __name__ == "__main__":
    app()
