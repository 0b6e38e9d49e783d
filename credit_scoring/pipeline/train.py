"""Train: load the tables, build features, cross-validated LightGBM search by business cost,
baselines, calibration, hold-out evaluation; log everything to MLflow and register the model."""

from __future__ import annotations

import json
import logging
import resource
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
import typer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from credit_scoring.core.calibration import sigmoid
from credit_scoring.core.cost import CostMatrix, best_threshold
from credit_scoring.core.dataset import DataError, Dataset
from credit_scoring.core.features import build_features, categorical_features
from credit_scoring.core.scorer import Scorer
from credit_scoring.own_table.table import MAX_CATEGORIES, load_own
from credit_scoring.pipeline import baselines, report, search
from credit_scoring.pipeline.calibrate import choose_calibration
from credit_scoring.pipeline.git import code_version
from credit_scoring.pipeline.registry import crown_if_better
from credit_scoring.pipeline.tracking import CANDIDATE_TAG, SCORER_ARTIFACT, use_experiment
from credit_scoring.profiles.home_credit.data import load_dataset
from credit_scoring.settings import get_settings

log = logging.getLogger("training")
app = typer.Typer(add_completion=False, help=__doc__)
REFERENCE_ROWS = 2000  # raw rows shipped with the model: drift reference and scoring by id
SHAP_ROWS = 1000


class Clock:
    """Progress lines with the time each step took and the process's peak memory so far
    (long steps at full scale take minutes and gigabytes)."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def step(self, message: str, *args: object) -> None:
        now = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
        log.info(
            f"[%6.0fs +%5.0fs peak %4.1f GiB] {message}",
            now - self.start,
            now - self.last,
            peak,
            *args,
        )
        self.last = now


def _log_figure(figure, name: str) -> None:
    mlflow.log_figure(figure, name)
    plt.close(figure)


def _log_baselines(experiment_id, results, parent_id: str, seed: int) -> dict[str, float]:
    """One run per baseline (same experiment, linked to the search run by a tag, not nested:
    the search run's children are its trials) and their figures for the search run."""
    client = mlflow.MlflowClient()
    beside = {}
    for result in results:
        run = client.create_run(
            experiment_id,
            run_name=f"baseline-{result.name}",
            tags={"role": "baseline", "search_run_id": parent_id},
        )
        for key, value in (result.params | {"seed": seed}).items():
            client.log_param(run.info.run_id, key, value)
        for key, value in result.metrics.items():
            client.log_metric(run.info.run_id, key, value)
        client.set_terminated(run.info.run_id)
        for key in ("test_roc_auc", "test_cost_per_client", "test_pr_auc"):
            beside[f"baseline_{result.name}_{key}"] = result.metrics[key]
    return beside


def _search(
    experiment_id, x_train, y_train, categorical, trials, folds, max_trees, seed, costs, clock
) -> tuple[search.CVResult, lgb.Dataset]:
    data = search.training_set(x_train, y_train, categorical)
    splits = search.stratified_folds(y_train, folds, seed)
    results = []
    for i, config in enumerate(search.sample_configs(trials, seed), start=1):
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"trial-{i}", nested=True):
            result = search.cross_validate(
                config, data, x_train, y_train, splits, max_trees, seed, costs
            )
            mlflow.log_params(config | {"folds": folds, "max_trees": max_trees})
            mlflow.log_metrics(
                {
                    "cv_roc_auc": result.auc,
                    "cv_cost_per_client": result.choice.cost_per_client,
                    "cv_threshold": result.choice.threshold,
                    "cv_trees_mean": float(np.mean(result.fold_trees)),
                    "seconds": result.seconds,
                }
                | {f"fold_{k}_roc_auc": a for k, a in enumerate(result.fold_auc, 1)}
            )
        results.append(result)
        clock.step(
            "trial %d/%d: CV AUC %.4f, cost/client %.4f, %.0f trees  %s",
            i,
            trials,
            result.auc,
            result.choice.cost_per_client,
            np.mean(result.fold_trees),
            config,
        )
    best = min(results, key=lambda r: (r.choice.cost_per_client, -r.auc))
    return best, data


def _reference(dataset: Dataset, train_index: pd.Index, seed: int):
    rows = dataset.applications.loc[train_index].sample(
        min(REFERENCE_ROWS, len(train_index)), random_state=seed
    )
    ids = rows[dataset.schema.id_column]
    return rows.reset_index(drop=True), dataset.histories.rows_of(ids)


def _load(settings, source, rows, seed, data, target, id_column, positive_label, override, top):
    """The user's file when ``--data`` is given, else Home Credit (real files or generated)."""
    if data is None:
        if target or id_column or positive_label or override:
            raise DataError("--target, --id, --positive-label and --schema-override need --data")
        return load_dataset(settings, source, rows, seed)
    if not (target and id_column):
        raise DataError("--data needs --target (the 0/1 default column) and --id (the id column)")
    return load_own(data, target, id_column, positive_label, override, top)


@app.command()
def main(
    source: str = typer.Option("auto", help="auto (real files if present), real or synthetic"),
    rows: int = typer.Option(20_000, help="Synthetic clients to generate (ignored for real data)"),
    trials: int = typer.Option(4, help="Hyper-parameter configurations to try"),
    folds: int = typer.Option(3, min=2, help="Stratified cross-validation folds per trial"),
    max_trees: int = typer.Option(1000, help="Upper bound on boosting rounds (early stopping)"),
    seed: int = typer.Option(0, help="Seed for data, split, folds and search"),
    fn_cost: float = typer.Option(10.0, help="Cost of granting a loan to a defaulter"),
    fp_cost: float = typer.Option(1.0, help="Cost of refusing a client who would repay"),
    data: Path = typer.Option(
        None,
        help="Your own table (.csv or .parquet) instead of Home Credit's; needs --target, --id",
    ),
    target: str = typer.Option(
        None, help="With --data: the target column (1 or --positive-label = default)"
    ),
    id_column: str = typer.Option(None, "--id", help="With --data: the id column (unique per row)"),
    positive_label: str = typer.Option(
        None, help="With --data: the target value that means default, when it is not 0/1 (e.g. bad)"
    ),
    schema_override: Path = typer.Option(
        None,
        help="With --data: YAML/JSON file that excludes columns or sets kind, bounds, categories",
    ),
    max_categories: int = typer.Option(
        MAX_CATEGORIES, min=2, help="With --data: most distinct values a text column may have"
    ),
) -> None:
    """Train and log one MLflow run (a nested run per configuration, a run per baseline)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    settings = get_settings()
    costs = CostMatrix(fn_cost=fn_cost, fp_cost=fp_cost)
    clock = Clock()
    version = code_version()  # before any step: the code this run actually started from
    try:
        dataset = _load(
            settings,
            source,
            rows,
            seed,
            data,
            target,
            id_column,
            positive_label,
            schema_override,
            max_categories,
        )
    except DataError as error:
        raise typer.BadParameter(str(error)) from error
    table, schema = dataset.applications, dataset.schema
    clock.step(
        "data: %s (%d clients, default rate %.2f%%, history tables: %s)",
        dataset.source,
        len(table),
        100 * table[schema.target_column].mean(),
        ", ".join(dataset.histories) or "none",
    )
    clock.step(
        "input schema %r: %d numeric and %d categorical fields (%d required), id %r",
        schema.name,
        len(schema.fields) - len(schema.categorical),
        len(schema.categorical),
        sum(f.required for f in schema.fields),
        schema.id_column,
    )
    categorical = categorical_features(schema)
    features = build_features(table, schema, dataset.histories)
    y = table[schema.target_column]
    train_idx, test_idx = train_test_split(
        table.index, test_size=0.2, stratify=y, random_state=seed
    )
    x_train, y_train = features.loc[train_idx], y[train_idx]
    x_test, y_test = features.loc[test_idx], y[test_idx].to_numpy()
    clock.step(
        "features: %d columns; train/hold-out = %d/%d",
        features.shape[1],
        len(train_idx),
        len(test_idx),
    )
    fingerprint = dataset.fingerprint()

    experiment_id = use_experiment(settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name="lightgbm-search") as run:
        baseline_results = baselines.evaluate_baselines(
            (x_train, y_train), (x_test, pd.Series(y_test)), categorical, costs, seed
        )
        beside = _log_baselines(experiment_id, baseline_results, run.info.run_id, seed)
        clock.step("baselines: %s", {k: round(v, 4) for k, v in beside.items()})

        best, data = _search(
            experiment_id,
            x_train,
            y_train,
            categorical,
            trials,
            folds,
            max_trees,
            seed,
            costs,
            clock,
        )
        calibration = choose_calibration(best.oof_raw, y_train.to_numpy(), seed)
        oof_proba = calibration.calibration.apply(best.oof_raw)
        choice = best_threshold(y_train.to_numpy(), oof_proba, costs)
        booster = search.fit_final(best.config, data, y_train, best.trees, seed)
        del data
        clock.step(
            "final model: %d trees; calibration %s (CV Brier %s); threshold %.4f",
            booster.num_trees(),
            calibration.calibration.method,
            {k: round(v, 5) for k, v in calibration.brier.items()},
            choice.threshold,
        )

        raw_test = booster.predict(x_test.to_numpy(), raw_score=True)
        proba = calibration.calibration.apply(raw_test)
        test = report.metrics_at(y_test, proba, choice.threshold, costs)
        uncalibrated = report.metrics_at(y_test, sigmoid(raw_test), choice.threshold, costs)
        metrics = (
            {f"test_{k}": v for k, v in test.items()}
            | {
                "test_brier_uncalibrated": uncalibrated["brier"],
                "cv_roc_auc": best.auc,
                "cv_cost_per_client": best.choice.cost_per_client,
                "cv_cost_per_client_calibrated": choice.cost_per_client,
                "threshold": choice.threshold,
                "trees": booster.num_trees(),
            }
            | {f"cv_brier_{k}": v for k, v in calibration.brier.items()}
            | beside
        )
        if dataset.true_probability is not None:
            bayes = dataset.true_probability[test_idx].to_numpy()
            metrics["bayes_roc_auc"] = float(roc_auc_score(y_test, bayes))
            metrics["bayes_brier"] = float(np.mean((bayes - y_test) ** 2))

        reference, reference_histories = _reference(dataset, train_idx, seed)
        clock.step(
            "reference sample: %d clients, rows of %d history tables",
            len(reference),
            len(reference_histories),
        )
        scorer = Scorer(
            booster,
            choice.threshold,
            schema,
            costs,
            reference=reference,
            calibration=calibration.calibration,
            reference_histories=reference_histories,
        )
        scorer.metadata = {
            "mlflow_run_id": run.info.run_id,
            "metrics": metrics,
            "params": best.config,
            "data": fingerprint,
            "code_version": version,
        }
        mlflow.log_params(
            best.config
            | {
                "trees": booster.num_trees(),
                "max_trees": max_trees,
                "folds": folds,
                "trials": trials,
                "calibration": calibration.calibration.method,
                "fn_cost": fn_cost,
                "fp_cost": fp_cost,
                "rows": len(table),
                "seed": seed,
                "data_source": dataset.source[:500],
                "schema_name": schema.name,
                "input_fields": len(schema.fields),
                "id_column": schema.id_column,
                "target_column": schema.target_column,
                "positive_label": positive_label,
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {
                CANDIDATE_TAG: "true",
                "data_source": dataset.source,
                "data_sha256_16": fingerprint["sha256_16"],
                "mlflow.source.git.commit": version,
                "code_version": version,
            }
        )
        mlflow.log_dict(fingerprint, "data_fingerprint.json")
        if schema_override is not None:
            mlflow.log_artifact(str(schema_override), artifact_path="schema_override")
        info = mlflow.lightgbm.log_model(
            booster, name="model", registered_model_name=settings.model_name
        )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / SCORER_ARTIFACT
            scorer.save(folder)
            mlflow.log_artifacts(str(folder), artifact_path=SCORER_ARTIFACT)
        mlflow.log_dict(json.loads(schema.to_json()), "input_schema.json")
        mlflow.log_dict({"features": scorer.feature_names}, "feature_names.json")
        mlflow.log_dict(calibration.calibration.to_dict(), "calibration.json")

        curves = {"LightGBM": proba} | {f"{b.name}": b.test_proba for b in baseline_results}
        if dataset.true_probability is not None:
            curves["true risk (Bayes)"] = bayes
        _log_figure(report.roc_figure(y_test, curves), "roc.png")
        _log_figure(
            report.cost_figure(y_test, proba, choice.threshold, costs), "cost_vs_threshold.png"
        )
        _log_figure(
            report.confusion_figure(y_test, proba, choice.threshold), "confusion_matrix.png"
        )
        _log_figure(
            report.reliability_figure(
                y_test, {"uncalibrated": sigmoid(raw_test), "calibrated": proba}
            ),
            "calibration.png",
        )
        sample = x_test.sample(min(SHAP_ROWS, len(x_test)), random_state=seed)
        _log_figure(report.shap_figure(booster, sample), "shap_global_importance.png")
        champion = crown_if_better(settings, info.registered_model_version, run.info.run_id)
        clock.step(
            "logged: model %s version %s%s",
            settings.model_name,
            info.registered_model_version,
            " (champion)" if champion else "",
        )

    log.info(
        "run %s: hold-out AUC %.4f (Bayes %s; logistic %.4f; dummy %.4f), cost/client %.4f "
        "(missed defaulter %g, refused good client %g) at threshold %.3f, Brier %.5f "
        "(uncalibrated %.5f); %.0f s",
        run.info.run_id,
        test["roc_auc"],
        # The true risk is known for generated Home Credit data only.
        f"{metrics['bayes_roc_auc']:.4f}" if "bayes_roc_auc" in metrics else "n/a",
        beside["baseline_logistic_test_roc_auc"],
        beside["baseline_dummy_test_roc_auc"],
        test["cost_per_client"],
        costs.fn_cost,
        costs.fp_cost,
        choice.threshold,
        test["brier"],
        uncalibrated["brier"],
        time.perf_counter() - clock.start,
    )


if __name__ == "__main__":
    app()
