"""Train: load the tables, build features, model families searched and compared on the same
repeated cross-validation folds (LightGBM, logistic regression, scorecard), baselines,
calibration, hold-out evaluation; log everything to MLflow and register the chosen model
under its dataset's name.

``train`` is the orchestration of named steps: load -> split -> (in one MLflow run) baselines
-> search (every family) -> finalise (choose the family, calibrate, threshold, refit) ->
evaluate -> log -> register. The command line (``credit_scoring.cli``)
builds a ``TrainOptions`` and calls it."""

from __future__ import annotations

import json
import logging
import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow.exceptions import MlflowException
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from credit_scoring.core.calibration import sigmoid
from credit_scoring.core.cost import CostMatrix, ThresholdChoice, best_threshold
from credit_scoring.core.dataset import DataError, Dataset
from credit_scoring.core.features import (
    build_features,
    model_features,
    protected_features,
)
from credit_scoring.core.groups import audit_groups
from credit_scoring.core.metrics import suggest_monotone as monotone_directions
from credit_scoring.core.models import FAMILIES, Family, LightGBMModel, Model
from credit_scoring.core.points import PointsScale
from credit_scoring.core.schema import InputSchema, ModelBundleError
from credit_scoring.core.scorer import Scorer
from credit_scoring.own_table.table import MAX_CATEGORIES, load_own
from credit_scoring.pipeline import baselines, fairness, model_card, report, search
from credit_scoring.pipeline.calibrate import CalibrationChoice, choose_calibration
from credit_scoring.pipeline.git import code_version
from credit_scoring.pipeline.registry import crown_if_better
from credit_scoring.pipeline.settings import PipelineSettings
from credit_scoring.pipeline.tracking import (
    CANDIDATE_TAG,
    SCORER_ARTIFACT,
    log_scorer_model,
    use_experiment,
)
from credit_scoring.profiles.home_credit.data import Source, load_dataset

log = logging.getLogger("training")
HOLDOUT_SHARE = 0.2
REFERENCE_ROWS = 2000  # raw rows shipped with the model: drift reference and scoring by id
SHAP_ROWS = 1000


@dataclass(frozen=True)
class OwnTable:
    """A user's single table instead of Home Credit's."""

    path: Path
    target: str  # the 0/1 (or positive_label) default column
    id_column: str  # unique per row
    positive_label: str | None = None  # the target value that means default, when not 0/1
    schema_override: Path | None = None  # YAML/JSON: columns excluded, kinds, bounds
    max_categories: int = MAX_CATEGORIES


@dataclass(frozen=True)
class TrainOptions:
    source: Source = "auto"  # Home Credit: real files if present, else generated
    rows: int = 20_000  # generated clients (ignored for real data and own tables)
    trials: int = 4  # LightGBM configurations Optuna tries
    folds: int = 3
    repeats: int = 2  # of the k-fold partition (repeated stratified CV)
    timeout_s: float | None = None  # time budget of the LightGBM search
    families: tuple[Family, ...] = FAMILIES  # the families that compete
    max_trees: int = 1000
    seed: int = 0
    costs: CostMatrix = field(default_factory=CostMatrix)
    own: OwnTable | None = None
    points: PointsScale = field(default_factory=PointsScale)  # scorecard points and bands
    # Protected attributes the model may take as inputs anyway (recorded, flagged everywhere).
    include_protected: tuple[str, ...] = ()
    gate: fairness.GateBounds = field(default_factory=fairness.GateBounds)


def own_table(
    data: Path | None,
    target: str | None,
    id_column: str | None,
    positive_label: str | None = None,
    schema_override: Path | None = None,
    max_categories: int | None = None,
) -> OwnTable | None:
    """The user's table when ``data`` is given (it needs a target and an id), else None;
    own-table options without ``data`` are a mistake worth saying."""
    if data is None:
        if target or id_column or positive_label or schema_override:
            raise DataError("--target, --id, --positive-label and --schema-override need --data")
        return None
    if not (target and id_column):
        raise DataError("--data needs --target (the 0/1 default column) and --id (the id column)")
    top = max_categories or MAX_CATEGORIES
    return OwnTable(data, target, id_column, positive_label, schema_override, top)


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


@dataclass
class Split:
    """Features of every client and the stratified train / hold-out partition."""

    categorical: list[str]
    train_index: pd.Index
    test_index: pd.Index
    x_train: pd.DataFrame
    y_train: pd.Series
    x_test: pd.DataFrame
    y_test: np.ndarray
    left_out: pd.DataFrame  # the protected features of every client: audit only, not inputs
    validation: str  # how the hold-out and the CV folds were drawn, said in the report
    dates_train: pd.Series | None = None  # application dates of the training rows, if any


@dataclass
class Final:
    """The chosen family's chosen configuration refitted on the whole training part."""

    best: search.CVResult
    families: dict[Family, search.CVResult]  # each family's chosen configuration
    model: Model
    calibration: CalibrationChoice
    choice: ThresholdChoice  # on the calibrated out-of-fold probabilities


@dataclass
class Evaluation:
    """Hold-out answers of the final model and every metric the run records."""

    metrics: dict[str, float]
    test: dict[str, float]
    uncalibrated: dict[str, float]
    raw: np.ndarray
    proba: np.ndarray
    bayes: np.ndarray | None  # the true risk, known for generated data only
    review: report.Review  # AUC interval, Gini, KS, deciles, bands, refusal rate
    validation: str  # how hold-out and folds were drawn (Split.validation)


def load(options: TrainOptions, settings: PipelineSettings, clock: Clock) -> Dataset:
    """The user's table when given, else Home Credit (real files or generated)."""
    own = options.own
    if own is None:
        dataset = load_dataset(settings.core, options.source, options.rows, options.seed)
    else:
        dataset = load_own(
            own.path,
            own.target,
            own.id_column,
            own.positive_label,
            own.schema_override,
            own.max_categories,
        )
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
    return dataset


def split(dataset: Dataset, options: TrainOptions, clock: Clock) -> Split:
    """Features and partition; protected attributes (and what derives from them) are kept
    apart from the model's inputs unless ``include_protected`` names them."""
    table, schema, seed = dataset.applications, dataset.schema, options.seed
    every = build_features(table, schema, dataset.histories)
    inputs = model_features(schema, options.include_protected)
    if not inputs:
        raise DataError(f"no model input left: every field of {schema.name!r} is protected")
    features = every[inputs]
    left_out = every[[c for c in protected_features(schema) if c not in inputs]]
    y = table[schema.target_column]
    dates = table[schema.date_column] if schema.date_column else None
    if dates is None:
        train_idx, test_idx = train_test_split(
            table.index, test_size=HOLDOUT_SHARE, stratify=y, random_state=seed
        )
        validation = (
            f"random stratified hold-out ({HOLDOUT_SHARE:.0%}); CV {options.repeats} x "
            f"{options.folds}-fold stratified"
        )
    else:
        train_idx, test_idx = latest_period(dates)
        validation = (
            f"out-of-time on {schema.date_column!r}: hold-out = applications from "
            f"{dates[test_idx].min():%Y-%m-%d} to {dates[test_idx].max():%Y-%m-%d}, trained "
            f"on {dates[train_idx].min():%Y-%m-%d} to {dates[train_idx].max():%Y-%m-%d}; CV "
            f"{options.folds} forward-chaining folds (never trained on the future)"
        )
    clock.step(
        "features: %d columns; train/hold-out = %d/%d (%s); protected, not inputs: %s%s",
        features.shape[1],
        len(train_idx),
        len(test_idx),
        validation,
        list(left_out.columns) or "none",
        f"; PROTECTED INPUTS (explicit): {list(options.include_protected)}"
        if options.include_protected
        else "",
    )
    return Split(
        [spec.name for spec in schema.categorical if spec.name in inputs],
        train_idx,
        test_idx,
        features.loc[train_idx],
        y[train_idx],
        features.loc[test_idx],
        y[test_idx].to_numpy(),
        left_out,
        validation,
        None if dates is None else dates[train_idx],
    )


def latest_period(dates: pd.Series) -> tuple[pd.Index, pd.Index]:
    """(training rows, hold-out rows): the hold-out is the latest ``HOLDOUT_SHARE`` of the
    applications by date, cut at a date boundary (one date is never on both sides)."""
    cut = dates.quantile(1 - HOLDOUT_SHARE, interpolation="higher")
    later = dates >= cut
    if later.all() or not later.any():
        raise DataError(
            f"date column {dates.name!r}: too few distinct dates to hold out the latest period"
        )
    return dates.index[~later], dates.index[later]


def log_baselines(
    experiment_id: str, results: list[baselines.BaselineResult], parent_id: str, seed: int
) -> dict[str, float]:
    """One run per baseline (same experiment, linked to the search run by a tag, not nested:
    the search run's children are its trials); their hold-out metrics for the search run."""
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


def _trial_metrics(result: search.CVResult) -> dict[str, float]:
    metrics = result.figures() | {"seconds": result.seconds}
    if result.fold_trees:
        metrics["cv_trees_mean"] = float(np.mean(result.fold_trees))
    return metrics | {f"fold_{k}_roc_auc": a for k, a in enumerate(result.fold_auc, 1)}


def problem_of(dataset: Dataset, part: Split, options: TrainOptions) -> search.Problem:
    """The training rows, the folds every family shares (seeded from the data's fingerprint)
    and the monotone directions the schema declares."""
    seed = search.fold_seed(str(dataset.fingerprint()["sha256_16"]))
    repeats = options.repeats
    if part.dates_train is None:
        folds = search.cv_folds(part.y_train, options.folds, repeats, seed)
    else:  # time has one order: the folds cannot be repeated
        folds, repeats = search.time_folds(part.dates_train, options.folds), 1
    monotone = {f.name: f.monotone for f in dataset.schema.fields if f.monotone}
    return search.Problem(
        part.x_train, part.y_train, part.categorical, folds, repeats, options.seed, monotone
    )


def search_families(
    experiment_id: str, problem: search.Problem, options: TrainOptions, clock: Clock
) -> dict[Family, search.CVResult]:
    """Every family's search, one MLflow run per configuration nested under the search run;
    each family's configuration chosen by the one-standard-error rule on CV log-loss."""

    def record(result: search.CVResult) -> None:
        with mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"{result.family}-trial",
            nested=True,
            tags={"family": result.family},
        ):
            mlflow.log_params(result.config | {"family": result.family, "folds": options.folds})
            mlflow.log_metrics(_trial_metrics(result))
        clock.step(
            "%s: CV AUC %.4f ± %.4f, log-loss %.5f  %s",
            result.family,
            result.auc,
            result.auc_std,
            result.logloss,
            {k: round(v, 4) if isinstance(v, float) else v for k, v in result.config.items()},
        )

    searches = {
        "lightgbm": lambda: search.search_lightgbm(
            problem, options.trials, options.max_trees, options.timeout_s, record
        ),
        "logistic": lambda: search.search_logistic(problem, record),
        "scorecard": lambda: search.search_scorecard(problem, record),
    }
    chosen = {f: search.one_standard_error(searches[f]()) for f in options.families}
    if problem.monotone and "lightgbm" in chosen:
        log_monotone_price(chosen["lightgbm"], problem, options, clock)
    return chosen


def log_monotone_price(
    constrained: search.CVResult, problem: search.Problem, options: TrainOptions, clock: Clock
) -> None:
    """The price of the declared monotone directions in CV AUC, logged on the search run
    (``monotone_price_cv_auc`` > 0: the constraints cost that much ranking power)."""
    free = search.price_of_monotonicity(constrained, problem, options.max_trees)
    price = free.auc - constrained.auc
    mlflow.log_metrics(
        {"cv_auc_mean_lightgbm_unconstrained": free.auc, "monotone_price_cv_auc": price}
    )
    clock.step(
        "price of monotonicity (%s): CV AUC %.4f constrained, %.4f without: %+.4f",
        ", ".join(f"{k} {v}" for k, v in sorted(problem.monotone.items())),
        constrained.auc,
        free.auc,
        price,
    )


def family_table(families: dict[Family, search.CVResult], chosen: Family) -> str:
    """The families side by side, and a plain word when a simpler one wins."""
    lines = ["family     CV AUC mean ± std   CV log-loss"]
    for family, result in families.items():
        mark = "  <- chosen" if family == chosen else ""
        lines.append(
            f"{family:<10} {result.auc:.4f} ± {result.auc_std:.4f}     {result.logloss:.5f}{mark}"
        )
    best = max(families, key=lambda f: families[f].auc)
    if chosen != best:
        lines.append(
            f"{chosen} is chosen: simpler than {best}, whose CV AUC is higher by only "
            f"{families[best].auc - families[chosen].auc:.4f} (< {search.SIMPLER_MARGIN})"
        )
    elif chosen != "lightgbm" and "lightgbm" in families:
        lines.append(f"{chosen}, a simpler family, beats LightGBM on this data")
    return "\n".join(lines)


def finalise(
    families: dict[Family, search.CVResult],
    problem: search.Problem,
    options: TrainOptions,
    clock: Clock,
) -> Final:
    """The family chosen on CV AUC; then calibration and threshold from its out-of-fold
    scores, and its final fit on all training rows."""
    chosen = search.choose_family(families)
    best = families[chosen]
    log.info(
        "families compared on the same %d folds:\n%s",
        len(problem.folds),
        family_table(families, chosen),
    )
    # Out-of-time folds leave the earliest period without an out-of-fold score.
    scored = ~np.isnan(best.oof_raw)
    y_oof, oof_raw = problem.labels[scored], best.oof_raw[scored]
    calibration = choose_calibration(oof_raw, y_oof, options.seed)
    choice = best_threshold(y_oof, calibration.calibration.apply(oof_raw), options.costs)
    model = search.fit_family(best, problem)
    clock.step(
        "final model: %s; calibration %s (CV log-loss %s%s); threshold %.4f",
        _describe(model),
        calibration.calibration.method,
        {k: round(v, 5) for k, v in calibration.logloss.items()},
        f", refused for collapsing scores: {calibration.refused}" if calibration.refused else "",
        choice.threshold,
    )
    return Final(best, families, model, calibration, choice)


def _describe(model: Model) -> str:
    if isinstance(model, LightGBMModel):
        return f"lightgbm, {model.booster.num_trees()} trees"
    return f"{model.family}, {len(model.feature_names)} features"


def evaluate(
    final: Final, part: Split, dataset: Dataset, options: TrainOptions, beside: dict[str, float]
) -> Evaluation:
    """Hold-out metrics at the chosen threshold, beside the CV figures and the baselines'."""
    costs = options.costs
    raw = final.model.raw_score(part.x_test.to_numpy())
    proba = final.calibration.calibration.apply(raw)
    threshold = final.choice.threshold
    test = report.metrics_at(part.y_test, proba, threshold, costs)
    # The ranking is the raw score's: calibration must not change it (ties would lower it).
    test["roc_auc_calibrated"] = test["roc_auc"]
    test["roc_auc"] = float(roc_auc_score(part.y_test, raw))
    test["distinct_probabilities"] = float(len(np.unique(proba)))
    test["distinct_raw_scores"] = float(len(np.unique(raw)))
    review = report.review(part.y_test, proba, threshold, options.points, options.seed)
    uncalibrated = report.metrics_at(part.y_test, sigmoid(raw), threshold, costs)
    metrics = (
        {f"test_{k}": v for k, v in test.items()}
        | {
            "test_brier_uncalibrated": uncalibrated["brier"],
            "cv_roc_auc": final.best.auc,
            "cv_cost_per_client_calibrated": final.choice.cost_per_client,
            "threshold": threshold,
        }
        | {f"cv_brier_{k}": v for k, v in final.calibration.brier.items()}
        | review.metrics()
        | {f"cv_logloss_calibration_{k}": v for k, v in final.calibration.logloss.items()}
        | family_metrics(final.families)
        | beside
    )
    if isinstance(final.model, LightGBMModel):
        metrics["trees"] = float(final.model.booster.num_trees())
    bayes = None
    if dataset.true_probability is not None:
        bayes = dataset.true_probability[part.test_index].to_numpy()
        metrics["bayes_roc_auc"] = float(roc_auc_score(part.y_test, bayes))
        metrics["bayes_brier"] = float(np.mean((bayes - part.y_test) ** 2))
    return Evaluation(metrics, test, uncalibrated, raw, proba, bayes, review, part.validation)


def audit_fairness(
    dataset: Dataset, part: Split, evaluation: Evaluation, final: Final, options: TrainOptions
) -> dict[str, Any]:
    """The fairness audit at the decision threshold on the hold-out set (see
    ``pipeline.fairness``), printed as a few lines; {} when no attribute is protected."""
    schema = dataset.schema
    if not schema.protected:
        log.info("fairness: no protected attribute declared in schema %r: no audit", schema.name)
        return {}
    groups = audit_groups(dataset.applications, schema)
    inputs = fairness.AuditInputs(
        schema=schema,
        x_train=part.x_train,
        y_train=part.y_train.to_numpy(),
        x_test=part.x_test,
        y_test=part.y_test,
        proba_test=evaluation.proba,
        threshold=final.choice.threshold,
        groups_train=groups.loc[part.train_index],
        groups_test=groups.loc[part.test_index],
        protected_train=part.left_out.loc[part.train_index],
        costs=options.costs,
        included=options.include_protected,
    )
    result = fairness.audit(inputs, options.gate, options.seed)
    if "price" in result and "bayes_roc_auc" in evaluation.metrics:
        result["price"]["bayes_auc"] = round(evaluation.metrics["bayes_roc_auc"], 4)
    for line in fairness.summary_lines(result):
        log.info(line)
    return result


def family_metrics(families: dict[Family, search.CVResult]) -> dict[str, float]:
    """Each family's CV figures, ``cv_auc_mean_<family>`` etc., side by side in the run."""
    return {
        f"{name}_{family}": value
        for family, result in families.items()
        for name, value in result.figures().items()
    }


def _reference(dataset: Dataset, train_index: pd.Index, seed: int):
    rows = dataset.applications.loc[train_index].sample(
        min(REFERENCE_ROWS, len(train_index)), random_state=seed
    )
    ids = rows[dataset.schema.id_column]
    return rows.reset_index(drop=True), dataset.histories.rows_of(ids)


def bundle(
    dataset: Dataset,
    part: Split,
    final: Final,
    evaluation: Evaluation,
    options: TrainOptions,
    run_id: str,
    version: str,
    clock: Clock,
) -> Scorer:
    """The scorer the service will load: model, threshold, calibration, schema, reference
    sample (with its history rows) and what the run measured."""
    reference, reference_histories = _reference(dataset, part.train_index, options.seed)
    clock.step(
        "reference sample: %d clients, rows of %d history tables",
        len(reference),
        len(reference_histories),
    )
    scorer = Scorer(
        final.model,
        final.choice.threshold,
        dataset.schema,
        options.costs,
        reference=reference,
        calibration=final.calibration.calibration,
        reference_histories=reference_histories,
        points=options.points,
    )
    scorer.metadata = {
        "mlflow_run_id": run_id,
        "metrics": evaluation.metrics,
        "params": final.best.config,
        "family": final.model.family,
        "families": {f: r.figures() for f, r in final.families.items()},
        "data": dataset.fingerprint(),
        "code_version": version,
        "validation": part.validation,
    }
    return scorer


def _params(dataset: Dataset, final: Final, options: TrainOptions) -> dict[str, Any]:
    schema = dataset.schema
    return final.best.config | {
        "family": final.model.family,
        "families": ",".join(final.families),
        "max_trees": options.max_trees,
        "folds": options.folds,
        "repeats": options.repeats,
        "trials": options.trials,
        "timeout_s": options.timeout_s,
        "calibration": final.calibration.calibration.method,
        "fn_cost": options.costs.fn_cost,
        "fp_cost": options.costs.fp_cost,
        "rows": len(dataset.applications),
        "seed": options.seed,
        "data_source": dataset.source[:500],
        "schema_name": schema.name,
        "input_fields": len(schema.fields),
        "id_column": schema.id_column,
        "target_column": schema.target_column,
        "positive_label": options.own.positive_label if options.own else None,
        "protected": ",".join(schema.protected) or None,
        "include_protected": ",".join(options.include_protected) or None,
    }


def _log_figure(figure: Figure, name: str) -> None:
    mlflow.log_figure(figure, name)
    plt.close(figure)


def log_figures(
    part: Split,
    final: Final,
    evaluation: Evaluation,
    baseline_results: list[baselines.BaselineResult],
    options: TrainOptions,
) -> None:
    """ROC (beside the baselines and the true risk), cost by threshold, confusion matrix,
    reliability and global SHAP importance, as images of the run."""
    y, proba, threshold = part.y_test, evaluation.proba, final.choice.threshold
    curves = {f"chosen ({final.model.family})": proba} | {
        f"{b.name}": b.test_proba for b in baseline_results
    }
    if evaluation.bayes is not None:
        curves["true risk (Bayes)"] = evaluation.bayes
    _log_figure(report.roc_figure(y, curves), "roc.png")
    _log_figure(report.cost_figure(y, proba, threshold, options.costs), "cost_vs_threshold.png")
    _log_figure(report.confusion_figure(y, proba, threshold), "confusion_matrix.png")
    reliability = {"uncalibrated": sigmoid(evaluation.raw), "calibrated": proba}
    _log_figure(report.reliability_figure(y, reliability), "calibration.png")
    sample = part.x_test.sample(min(SHAP_ROWS, len(part.x_test)), random_state=options.seed)
    contributions, _ = final.model.contributions(sample.to_numpy())
    _log_figure(report.shap_figure(contributions, sample), "shap_global_importance.png")
    approval = {final.model.family: proba} | {b.name: b.test_proba for b in baseline_results}
    _log_figure(report.approval_figure(y, approval, threshold), "approval_vs_bad_rate.png")


def log_review(evaluation: Evaluation, suggested: dict[str, str]) -> None:
    """The reviewer's report as artifacts: the short text, decile and band tables (CSV), and
    the monotone directions the data suggests (never applied: an analyst declares them)."""
    review = evaluation.review
    mlflow.log_text(review.markdown(), "report/report.md")
    mlflow.log_text(review.deciles.to_csv(index=False), "report/deciles.csv")
    mlflow.log_text(review.bands.to_csv(index=False), "report/bands.csv")
    mlflow.log_dict(suggested, "report/monotone_suggestions.json")


def suggest_monotone(part: Split, schema: InputSchema, clock: Clock) -> dict[str, str]:
    """Directions the training rows show clearly for the numeric and ordinal model inputs
    (a protected field is no input, so no direction is suggested for it)."""
    inputs = set(part.x_train.columns)
    columns = [
        f.name for f in schema.fields if (f.kind == "numeric" or f.ordinal) and f.name in inputs
    ]
    suggested = monotone_directions(part.x_train, part.y_train.to_numpy(), columns)
    clock.step(
        "monotone directions the data suggests (not applied; declare them to use them): %s",
        ", ".join(f"{k} {v}" for k, v in suggested.items()) or "none",
    )
    return suggested


def log_record(
    dataset: Dataset, final: Final, evaluation: Evaluation, scorer: Scorer, options: TrainOptions
) -> None:
    """Params, metrics, tags and artifacts of the search run (the promotable scorer too)."""
    fingerprint = scorer.metadata["data"]
    version = scorer.metadata["code_version"]
    mlflow.log_params(_params(dataset, final, options))
    mlflow.log_metrics(evaluation.metrics)
    mlflow.set_tags(
        {
            CANDIDATE_TAG: "true",
            "role": "search",
            "family": final.model.family,
            "data_source": dataset.source,
            "data_sha256_16": fingerprint["sha256_16"],
            "mlflow.source.git.commit": version,
            "code_version": version,
            "validation": scorer.metadata["validation"],
        }
    )
    mlflow.log_dict(fingerprint, "data_fingerprint.json")
    if options.own is not None and options.own.schema_override is not None:
        mlflow.log_artifact(str(options.own.schema_override), artifact_path="schema_override")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / SCORER_ARTIFACT
        scorer.save(folder)
        model_card.write(folder, scorer)  # shipped in the bundle; promote rewrites it
        mlflow.log_artifacts(str(folder), artifact_path=SCORER_ARTIFACT)
        model_card.log(folder)
    fairness.log_to_mlflow(scorer.metadata.get("fairness", {}))
    mlflow.log_dict(json.loads(dataset.schema.to_json()), "input_schema.json")
    mlflow.log_dict({"features": scorer.feature_names}, "feature_names.json")
    mlflow.log_dict(final.calibration.calibration.to_dict(), "calibration.json")


def register(
    scorer: Scorer,
    dataset: Dataset,
    part: Split,
    run_id: str,
    settings: PipelineSettings,
    costs: CostMatrix,
) -> tuple[str, str, bool]:
    """Log the model as a new version of its dataset's registered model and crown it when
    it beats that dataset's champion on this run's hold-out: (registered model, version,
    crowned). LightGBM in its MLflow flavour; the linear families as a pyfunc model over the
    scorer bundle."""
    name = settings.registered_model(dataset.schema.name)
    if isinstance(scorer.model, LightGBMModel):
        info = mlflow.lightgbm.log_model(
            scorer.model.booster, name="model", registered_model_name=name
        )
    else:
        info = log_scorer_model(scorer, name)
    version = str(info.registered_model_version)

    def rescore(champion_run: str) -> dict[str, float] | None:
        return champion_on_holdout(champion_run, dataset, part, costs)

    return name, version, crown_if_better(name, version, run_id, rescore)


def champion_on_holdout(
    run_id: str, dataset: Dataset, part: Split, costs: CostMatrix
) -> dict[str, float] | None:
    """The champion's hold-out figures on this run's hold-out rows (its own threshold, this
    run's costs), or None when it cannot score them: a bundle too old to load, or other
    input fields than these rows have."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=SCORER_ARTIFACT, dst_path=tmp
            )
            champion = Scorer.load(Path(folder))
        except (MlflowException, ModelBundleError, OSError) as error:
            log.info("champion run %s cannot be loaded to re-score: %s", run_id, error)
            return None
    if champion.schema.names != dataset.schema.names:
        return None
    rows = dataset.applications.loc[part.test_index]
    histories = dataset.histories.rows_of(rows[dataset.schema.id_column])
    proba = champion.predict_proba(rows, histories)
    return report.metrics_at(part.y_test, proba, champion.threshold, costs)


def _summary(run_id: str, evaluation: Evaluation, final: Final, costs: CostMatrix, clock: Clock):
    metrics, test = evaluation.metrics, evaluation.test
    log.info("report: validation: %s", evaluation.validation)
    for line in evaluation.review.short():
        log.info("report: %s", line)
    log.info(
        "run %s: hold-out AUC %.4f (Bayes %s; logistic %.4f; dummy %.4f), cost/client %.4f "
        "(missed defaulter %g, refused good client %g) at threshold %.3f, Brier %.5f "
        "(uncalibrated %.5f); %.0f s",
        run_id,
        test["roc_auc"],
        # The true risk is known for generated Home Credit data only.
        f"{metrics['bayes_roc_auc']:.4f}" if "bayes_roc_auc" in metrics else "n/a",
        metrics["baseline_logistic_test_roc_auc"],
        metrics["baseline_dummy_test_roc_auc"],
        test["cost_per_client"],
        costs.fn_cost,
        costs.fp_cost,
        final.choice.threshold,
        test["brier"],
        evaluation.uncalibrated["brier"],
        time.perf_counter() - clock.start,
    )


def train(options: TrainOptions, settings: PipelineSettings) -> str:
    """One MLflow search run (a nested run per configuration, a run per baseline), the model
    registered under its dataset's name; returns the run id."""
    clock = Clock()
    version = code_version()  # before any step: the code this run actually started from
    dataset = load(options, settings, clock)
    part = split(dataset, options, clock)
    experiment_id = use_experiment(settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name="model-search") as run:
        run_id = run.info.run_id
        baseline_results = baselines.evaluate_baselines(
            (part.x_train, part.y_train),
            (part.x_test, pd.Series(part.y_test)),
            part.categorical,
            options.costs,
            options.seed,
        )
        beside = log_baselines(experiment_id, baseline_results, run_id, options.seed)
        clock.step("baselines: %s", {k: round(v, 4) for k, v in beside.items()})
        problem = problem_of(dataset, part, options)
        families = search_families(experiment_id, problem, options, clock)
        final = finalise(families, problem, options, clock)
        evaluation = evaluate(final, part, dataset, options, beside)
        scorer = bundle(dataset, part, final, evaluation, options, run_id, version, clock)
        scorer.metadata["fairness"] = audit_fairness(dataset, part, evaluation, final, options)
        clock.step("fairness audit")
        log_record(dataset, final, evaluation, scorer, options)
        log_figures(part, final, evaluation, baseline_results, options)
        log_review(evaluation, suggest_monotone(part, dataset.schema, clock))
        name, version, crowned = register(scorer, dataset, part, run_id, settings, options.costs)
        clock.step("logged: model %s version %s%s", name, version, " (champion)" * crowned)
    _summary(run_id, evaluation, final, options.costs, clock)
    return run_id
