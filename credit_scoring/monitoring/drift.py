"""Drift report: the applications the service logged, against the training reference sample
shipped with the promoted model.

Writes, under the output folder: ``drift_report.html`` (Evidently: per-field distributions and
drift scores), ``summary.json`` (dataset drift yes/no, share of drifted fields, the drifted
fields; and, once outcomes are recorded, the realised performance of the same window:
``monitoring.performance``), ``scores_over_time.html`` / ``.png`` (score distribution and
refusal rate over time).

Drift is measured with the population stability index (PSI), the credit-scoring convention
(< 0.1 stable, 0.1-0.25 moderate, >= 0.25 significant). It is an effect size, so a long log
does not turn negligible differences into alarms the way p-value tests do. The fields watched
are the model's most important raw inputs (mean |SHAP| on the reference sample) and the
predicted probability: drift in a field the model ignores does not change a decision.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from credit_scoring.core.parquet import read_parquet
from credit_scoring.core.profile import get_profile
from credit_scoring.core.request_log import read_log
from credit_scoring.core.scorer import Scorer
from credit_scoring.monitoring import performance
from credit_scoring.monitoring.decisions import ReportError, Window

log = logging.getLogger("drift")

PREDICTION = "probability"
# Applicants sent in full. predict_client rescores clients of the reference sample itself, so
# its rows would only pull the current window towards the reference.
NEW_APPLICATIONS = ("predict", "explain")
PSI_SIGNIFICANT = 0.25
REPORT_FILE, SUMMARY_FILE, SCORES_FILE = (
    "drift_report.html",
    "summary.json",
    "scores_over_time.html",
)


class DriftError(ValueError):
    """No report possible: no promoted model, no reference, or too few logged requests."""


@dataclass
class DriftSummary:
    dataset_drift: bool
    drifted_share: float  # drifted fields / tested fields
    drifted_fields: list[str]  # largest PSI first
    psi: dict[str, float]  # every tested field, largest first
    method: str
    threshold: float
    drift_share: float  # dataset drift when drifted_share >= drift_share
    tested_fields: list[str]
    too_few_values: list[str]  # watched but with fewer than min_values current values
    model: str
    reference_rows: int
    current_rows: int  # distinct applications in the window
    logged_rows: int  # rows of the log in the window, repeats included
    window: dict[str, str | None]
    decisions: dict[str, float]  # refusal rate, mean probability: reference vs current
    # Realised performance in the same window, once outcomes are recorded (else the reason
    # there is none): all cohorts' figures per model and the alerts (monitoring.performance).
    realised_performance: dict[str, Any] | None = None


def parse_time(text: str | None) -> pd.Timestamp | None:
    """Unix seconds or an ISO date/time (UTC unless it says otherwise)."""
    if text is None:
        return None
    try:
        return pd.Timestamp(float(text), unit="s", tz="UTC")
    except ValueError:
        stamp = pd.Timestamp(text)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def load_promoted(model: str) -> tuple[Scorer, str]:
    """The scorer of a model in the BentoML store (``name:version`` or ``name:latest``)."""
    try:
        stored = bentoml.models.get(model)
    except bentoml.exceptions.NotFound as error:
        raise DriftError(
            f"no model {model} in the BentoML store: train and promote one first "
            "(`make train promote`), or set CREDIT_MODEL_NAME / BENTOML_HOME"
        ) from error
    scorer = Scorer.load(Path(stored.path))
    if scorer.reference is None:
        raise DriftError(f"model {stored.tag} was promoted without a reference sample")
    return scorer, str(stored.tag)


def _reference(scorer: Scorer) -> pd.DataFrame:
    """The scorer's reference sample, which drift needs (``load_promoted`` checks it is there)."""
    if scorer.reference is None:
        raise DriftError("the model was promoted without a reference sample")
    return scorer.reference


def _blank_sentinels(frame: pd.DataFrame, sentinels: Mapping[str, float]) -> None:
    """A sentinel (a "not employed" far outside every real duration) would stretch PSI's
    equal-width bins so far that all real values share one bin: compare the measurements."""
    for column, value in sentinels.items():
        if column in frame:
            frame[column] = frame[column].mask(frame[column] == value)


def watched_fields(scorer: Scorer, top: int) -> list[str]:
    """The ``top`` raw fields with the largest mean |SHAP| on the reference sample (0 = all).

    An engineered feature (a ratio of two fields, a mean of three scores) shares its importance
    equally among the raw fields it is computed from, found by blanking each field in turn and
    seeing which features change: the feature function stays the only place that knows.
    """
    names = scorer.schema.names
    if top <= 0:
        return names
    reference = _reference(scorer)
    contributions = scorer.explain(reference).contributions
    importance = pd.Series(np.abs(contributions).mean(axis=0), index=scorer.feature_names)
    sample = reference.head(200)
    base = scorer.features(sample)
    inputs: dict[str, list[str]] = {feature: [] for feature in scorer.feature_names}
    for name in names:
        changed = scorer.features(sample.assign(**{name: np.nan})).compare(base).columns
        for feature in set(changed.get_level_values(0)):
            inputs[feature].append(name)
    credit = pd.Series(0.0, index=names)
    for feature, fields in inputs.items():
        for field in fields:
            credit[field] += importance[feature] / len(fields)
    return credit.sort_values(ascending=False, kind="stable").index[:top].tolist()


def current_window(
    logged: pd.DataFrame,
    fields: list[str],
    raw_fields: list[str],
    model: str,
    since: pd.Timestamp | None,
    until: pd.Timestamp | None,
    endpoints: tuple[str, ...] = NEW_APPLICATIONS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(log rows of ``model`` and ``endpoints`` within the window, distinct applications).

    An application scored twice (a retry, predict then explain, a load test's pool) is one
    applicant: counting it twice would weigh the sample towards whatever is repeated.
    """
    window = logged[(logged["model_version"] == model) & logged["endpoint"].isin(endpoints)]
    if since is not None:
        window = window[window["logged_at"] >= since]
    if until is not None:
        window = window[window["logged_at"] < until]
    if window.empty:
        versions = sorted(logged["model_version"].unique())
        raise DriftError(
            f"no logged request to {', '.join(endpoints)} scored by {model} in the window; "
            f"the log holds {len(logged)} rows from models {versions}"
        )
    raw = window.reindex(columns=raw_fields).astype(str)
    distinct = window.loc[raw.drop_duplicates().index].reindex(columns=[*fields, PREDICTION])
    return window, distinct.reset_index(drop=True)


def _definition(scorer: Scorer, columns: list[str]) -> DataDefinition:
    categorical = {spec.name for spec in scorer.schema.categorical}
    return DataDefinition(
        numerical_columns=[c for c in columns if c not in categorical],
        categorical_columns=[c for c in columns if c in categorical],
    )


def drift_report(
    scorer: Scorer,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    threshold: float,
    drift_share: float,
) -> tuple[Any, list[str], dict[str, float], float]:
    """Evidently's data-drift preset (PSI on every column) -> snapshot, drifted columns,
    PSI per column, share of drifted columns."""
    definition = _definition(scorer, columns)
    preset = DataDriftPreset(
        columns=columns, method="psi", threshold=threshold, drift_share=drift_share
    )
    snapshot = Report([preset]).run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    metrics = snapshot.dict()["metrics"]
    counted = next(m for m in metrics if m["config"]["type"].endswith("DriftedColumnsCount"))
    psi = {
        m["config"]["column"]: float(m["value"])
        for m in metrics
        if m["config"]["type"].endswith("ValueDrift")
    }
    psi = dict(sorted(psi.items(), key=lambda item: -item[1]))
    drifted = [c for c, value in psi.items() if value >= threshold]
    if len(drifted) != int(counted["value"]["count"]):  # the JSON must say what the HTML says
        raise RuntimeError(f"Evidently counted {counted['value']} drifted columns, not {drifted}")
    return snapshot, drifted, psi, float(counted["value"]["share"])


def scores_over_time(
    window: pd.DataFrame, reference_probability: pd.Series, threshold: float, folder: Path
) -> pd.DataFrame:
    """Score distribution and refusal rate per time bucket, as a PNG in a small HTML page."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    buckets = max(1, min(20, len(window) // 20))  # ~20 points, at least 20 rows per point
    grouped = window.groupby(pd.cut(window["logged_at"], buckets), observed=True)
    table = pd.DataFrame(
        {
            "from": grouped["logged_at"].min(),
            "requests": grouped.size(),
            "p10": grouped[PREDICTION].quantile(0.1),
            "median": grouped[PREDICTION].median(),
            "p90": grouped[PREDICTION].quantile(0.9),
            "refusal_rate": grouped["decision"].apply(lambda d: float((d == "refused").mean())),
        }
    ).reset_index(drop=True)
    reference_refusals = float((reference_probability >= threshold).mean())

    figure, (dist, trend, rate) = plt.subplots(1, 3, figsize=(16, 4.2))
    top = max(reference_probability.quantile(0.995), window[PREDICTION].quantile(0.995))
    bins = np.linspace(0, min(1.0, top * 1.1), 41)  # small models rarely reach high scores
    dist.hist(reference_probability, bins, density=True, alpha=0.5, label="reference")
    dist.hist(window[PREDICTION], bins, density=True, alpha=0.5, label="logged requests")
    dist.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    dist.set(title="probability of default", xlabel="probability", ylabel="density")
    dist.legend()
    trend.fill_between(table["from"], table["p10"], table["p90"], alpha=0.3, label="p10-p90")
    trend.plot(table["from"], table["median"], marker="o", label="median")
    trend.axhline(threshold, color="k", ls="--", lw=1)
    trend.set(title="score over time", ylabel="probability")
    trend.legend()
    rate.plot(table["from"], table["refusal_rate"], marker="o", label="logged requests")
    rate.axhline(reference_refusals, color="C1", ls="--", label="reference")
    rate.set(title="refusal rate over time", ylabel="share refused", ylim=(0, 1))
    rate.legend()
    for axis in (trend, rate):
        axis.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    png = folder / "scores_over_time.png"
    figure.savefig(png, dpi=90)
    plt.close(figure)

    image = base64.b64encode(png.read_bytes()).decode()
    html = (
        "<!doctype html><meta charset='utf-8'><title>Scores over time</title>"
        "<body style='font-family:sans-serif'><h1>Scores and decisions over time</h1>"
        f"<p>{len(window)} logged requests; reference refusal rate {reference_refusals:.1%}, "
        f"threshold {threshold:.4f}. Drift per field: <a href='{REPORT_FILE}'>{REPORT_FILE}</a>"
        f"</p><img style='max-width:100%' src='data:image/png;base64,{image}'>"
        + table.to_html(index=False, float_format=lambda v: f"{v:.4f}")
    )
    (folder / SCORES_FILE).write_text(html, encoding="utf-8")
    return table


def run(
    log_path: Path,
    scorer: Scorer,
    tag: str,
    output_dir: Path,
    since: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None,
    top_fields: int = 20,
    threshold: float = PSI_SIGNIFICANT,
    drift_share: float = 0.25,
    min_values: int = 100,
) -> DriftSummary:
    """Compare the requests ``tag`` (``name:version``) scored with ``scorer``'s reference."""
    fields = watched_fields(scorer, top_fields)
    window, current = current_window(
        read_log(log_path), fields, scorer.schema.names, tag, since, until
    )
    sample = _reference(scorer)
    reference = sample.reindex(columns=fields)
    # Scored as the service scores a new application today: from its fields alone (requests
    # carry no histories yet), so the comparison measures the applicants, not the input gap.
    reference[PREDICTION] = scorer.predict_proba(sample)
    sentinels = get_profile(scorer.schema.profile).sentinels
    for frame in (reference, current):
        _blank_sentinels(frame, sentinels)

    # PSI over a handful of values is noise (a sparse field with 40 values drifts by chance).
    counts = current[[*fields, PREDICTION]].notna().sum()
    too_few = [c for c in fields if counts[c] < min_values]
    tested = [c for c in [*fields, PREDICTION] if c not in too_few]
    if counts[PREDICTION] < min_values:
        raise DriftError(
            f"only {counts[PREDICTION]} distinct applications in the window; "
            f"at least --min-values {min_values} are needed to judge drift"
        )
    snapshot, drifted, psi, share = drift_report(
        scorer, reference, current, tested, threshold, drift_share
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(output_dir / REPORT_FILE))
    scores_over_time(window, reference[PREDICTION], scorer.threshold, output_dir)

    refused = (window[PREDICTION] >= scorer.threshold).mean()
    summary = DriftSummary(
        dataset_drift=share >= drift_share,
        drifted_share=round(share, 4),
        drifted_fields=drifted,
        psi={c: round(v, 4) for c, v in psi.items()},
        method="psi",
        threshold=threshold,
        drift_share=drift_share,
        tested_fields=tested,
        too_few_values=too_few,
        model=tag,
        reference_rows=len(reference),
        current_rows=len(current),
        logged_rows=len(window),
        window={
            "first": window["logged_at"].min().isoformat(),
            "last": window["logged_at"].max().isoformat(),
            "since": None if since is None else since.isoformat(),
            "until": None if until is None else until.isoformat(),
        },
        decisions={
            "reference_refusal_rate": round(
                float((reference[PREDICTION] >= scorer.threshold).mean()), 4
            ),
            "current_refusal_rate": round(float(refused), 4),
            "reference_mean_probability": round(float(reference[PREDICTION].mean()), 4),
            "current_mean_probability": round(float(window[PREDICTION].mean()), 4),
        },
    )
    summary.realised_performance = realised_section(log_path, since, until)
    (output_dir / SUMMARY_FILE).write_text(json.dumps(asdict(summary), indent=1), "utf-8")
    return summary


def realised_section(
    log_path: Path, since: pd.Timestamp | None, until: pd.Timestamp | None
) -> dict[str, Any]:
    """Input drift says the population moved; outcomes say whether the model still ranks
    well: the performance report's figures over all cohorts of the window, and its alerts."""
    try:
        report = performance.build(log_path, performance.Options.of(Window(since, until)))
    except ReportError as error:
        return {"why_not": str(error)}
    overall = report["cohorts"][-1]
    return {
        "as_of": report["as_of"],
        "performance_window_months": report["performance_window_months"],
        "cohort": {k: v for k, v in overall.items() if k not in report["models"]},
        "models": {
            role: {"model_version": model["model_version"], "training": model["training"]}
            | {k: v for k, v in (overall[role] or {}).items() if k != "bands"}
            for role, model in report["models"].items()
        },
        "alerts": report["alerts"],
    }


def describe(summary: DriftSummary, folder: Path, drift_share: float) -> str:
    """The verdict in one line, for the console and CI logs."""
    verdict = "DRIFT" if summary.dataset_drift else "no dataset drift"
    return (
        f"{verdict}: {len(summary.drifted_fields)}/{len(summary.tested_fields)} fields drifted "
        f"(share {summary.drifted_share:.2f}, threshold {drift_share}) "
        f"{summary.drifted_fields}; {summary.current_rows} applications vs "
        f"{summary.reference_rows} reference rows; written to {folder} "
        f"({REPORT_FILE}, {SUMMARY_FILE}, {SCORES_FILE}) at {datetime.now(UTC):%H:%M:%S} UTC"
    )


PORTFOLIO_SUMMARY_FILE = "portfolio_summary.json"


def portfolio_scores(outputs: list[Path]) -> pd.DataFrame:
    """The answers of one or more `batch-score` runs (their output folders, or the ``scores``
    folders in them), the run time as ``logged_at``: months of portfolio scores side by side."""
    frames = []
    for path in outputs:
        folder = path / "scores" if (path / "scores").is_dir() else path
        if not folder.exists():
            raise DriftError(f"{path}: no batch-score output (scores/) there")
        columns = [PREDICTION, "decision", "model_version", "scored_at"]
        frames.append(read_parquet(folder, columns=columns))
    scores = pd.concat(frames, ignore_index=True).rename(columns={"scored_at": "logged_at"})
    scores["logged_at"] = pd.to_datetime(scores["logged_at"], utc=True)
    return scores


def run_portfolio(
    outputs: list[Path], scorer: Scorer, output_dir: Path, threshold: float = PSI_SIGNIFICANT
) -> dict[str, Any]:
    """The portfolio's score distribution (PSI of the probability) and refusal rate per run
    against the reference sample, scored with its history rows as the batch job scores."""
    scores = portfolio_scores(outputs)
    sample = _reference(scorer)
    reference = pd.DataFrame({PREDICTION: scorer.predict_proba(sample, scorer.reference_histories)})
    snapshot, drifted, psi, _ = drift_report(
        scorer, reference, scores, [PREDICTION], threshold, drift_share=1.0
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(output_dir / REPORT_FILE))
    per_run = scores_over_time(scores, reference[PREDICTION], scorer.threshold, output_dir)
    summary = {
        "score_drift": bool(drifted),
        "psi": round(psi[PREDICTION], 4),
        "threshold": threshold,
        "clients": len(scores),
        "runs": int(scores["logged_at"].nunique()),
        "model_versions": sorted(scores["model_version"].unique()),
        "reference_rows": len(reference),
        "reference_refusal_rate": round(
            float((reference[PREDICTION] >= scorer.threshold).mean()), 4
        ),
        "portfolio_refusal_rate": round(float((scores["decision"] == "refused").mean()), 4),
        "per_period": json.loads(per_run.to_json(orient="records", date_format="iso")),
    }
    (output_dir / PORTFOLIO_SUMMARY_FILE).write_text(json.dumps(summary, indent=1), "utf-8")
    return summary
