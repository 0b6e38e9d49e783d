"""Realised performance: how the champion (and the challenger, on the same applicants) ranked
the applicants whose outcomes are now known, beside the figures the model showed in training.

Per cohort of decisions (the month decided, and all of them): applicants, bad / good /
immature / no outcome (``core.outcomes.realised``: an applicant whose performance window is
still open is immature, never good), and for each model on the mature labelled applicants:
ROC AUC with its bootstrap CI, Gini, KS (``core.metrics``, the training report's functions),
bad rate and calibration per score band (expected: mean predicted probability; observed: bad
rate), the approval rate and the business cost per applicant at the model's decisions, and
Evidently's classification metrics. Alerts: a realised AUC below ``min_auc``, an observed
default rate off the predicted one by more than ``calibration_tolerance`` of it and by more
than two standard errors.

Real outcomes exist only for granted loans, so realised figures rank the granted: the report
says how many refused applicants had outcomes (on synthetic traffic, all: complete
information, flagged as such).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently.presets import ClassificationPreset

from credit_scoring.core import metrics
from credit_scoring.core.cost import DEFAULT_COSTS, CostMatrix, business_cost
from credit_scoring.core.outcomes import BAD, GOOD, IMMATURE, NO_OUTCOME
from credit_scoring.core.scorer import Scorer
from credit_scoring.monitoring.decisions import (
    CHALLENGER,
    CHAMPION,
    ReportError,
    Window,
    decisions,
    served_versions,
    stored_scorer,
    with_outcomes,
    write_report,
)
from credit_scoring.monitoring.settings import MonitoringSettings

MIN_CLASS_ROWS = 10  # fewer bads (or goods): no AUC, KS or calibration alert for the cohort
TRAINING_FIGURES = {  # training's name (scorer.json metrics) -> the report's
    "test_roc_auc": "roc_auc",
    "test_roc_auc_ci_low": "roc_auc_low",
    "test_roc_auc_ci_high": "roc_auc_high",
    "test_ks": "ks",
    "test_bad_rate": "bad_rate",
    "test_cost_per_client": "cost_per_applicant",
}
COLUMNS = {  # role -> the frame's columns: probability, decision, band
    CHAMPION: ("probability", "decision", "band"),
    CHALLENGER: ("challenger_probability", "challenger_decision", "challenger_band"),
}


@dataclass(frozen=True)
class Options:
    window: Window
    window_months: int
    as_of: pd.Timestamp
    freq: str = "M"  # cohorts: pandas period alias (M month, W week, D day)

    @classmethod
    def of(
        cls,
        window: Window,
        as_of: pd.Timestamp | None = None,
        window_months: int | None = None,
        freq: str = "M",
    ) -> Options:
        settings = MonitoringSettings()
        return cls(
            window,
            window_months or settings.performance_window_months,
            as_of or pd.Timestamp.now(tz="UTC"),
            freq,
        )


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _bands(y: np.ndarray, proba: np.ndarray, bands: pd.Series) -> list[dict[str, Any]]:
    """Per band: applicants, bads, observed bad rate, expected (mean predicted) rate."""
    frame = pd.DataFrame({"band": bands.fillna("unknown"), "bad": y, "proba": proba})
    table = frame.groupby("band", sort=True).agg(
        applicants=("bad", "size"), bads=("bad", "sum"), expected=("proba", "mean")
    )
    table["observed"] = table["bads"] / table["applicants"]
    return [
        {
            "band": band,
            "applicants": int(r.applicants),
            "bads": int(r.bads),
            "observed_bad_rate": _round(r.observed),
            "expected_bad_rate": _round(r.expected),
        }
        for band, r in table.iterrows()
    ]


def figures(
    labelled: pd.DataFrame, role: str, costs: CostMatrix, seed: int = 0
) -> dict[str, Any] | None:
    """One model's realised figures on mature labelled applicants (None without its scores)."""
    probability, decision, band = COLUMNS[role]
    if probability not in labelled:
        return None
    scored = labelled[labelled[probability].notna()]
    y = (scored["realised"] == BAD).to_numpy(int)
    proba = scored[probability].to_numpy(float)
    refused = (scored[decision] == "refused").to_numpy()
    bads, goods = int(y.sum()), int(len(y) - y.sum())
    out: dict[str, Any] = {
        "applicants": len(y),
        "bads": bads,
        "bad_rate": _round(y.mean()) if len(y) else None,
        "expected_bad_rate": _round(proba.mean()) if len(y) else None,
        "approval_rate": _round(1 - refused.mean()) if len(y) else None,
        "cost_per_applicant": _round(business_cost(y, refused, costs) / len(y)) if len(y) else None,
    }
    if min(bads, goods) < MIN_CLASS_ROWS:
        return out | {"roc_auc": None, "why_no_auc": f"fewer than {MIN_CLASS_ROWS} bads or goods"}
    interval = metrics.auc_interval(y, proba, seed=seed)
    return out | {
        "roc_auc": _round(interval.auc),
        "roc_auc_low": _round(interval.low),
        "roc_auc_high": _round(interval.high),
        "gini": _round(metrics.gini(interval.auc)),
        "ks": _round(metrics.ks_statistic(y, proba)),
        "bands": _bands(y, proba, scored[band]),
    }


def _counts(cohort: pd.DataFrame) -> dict[str, int]:
    labels = cohort["realised"].value_counts()
    return {
        name.replace(" ", "_"): int(labels.get(name, 0))
        for name in (BAD, GOOD, IMMATURE, NO_OUTCOME)
    }


def cohorts(
    frame: pd.DataFrame, roles: list[str], costs: CostMatrix, freq: str
) -> list[dict[str, Any]]:
    """Figures per cohort of decisions (``freq`` periods), then for all of them."""
    periods = frame["logged_at"].dt.tz_convert(None).dt.to_period(freq).astype(str)
    groups = [(str(p), frame[periods == p]) for p in sorted(periods.unique())]
    out = []
    for name, cohort in [*groups, ("all", frame)]:
        labelled = cohort[cohort["realised"].isin([BAD, GOOD])]
        out.append(
            {"cohort": name, "applicants": len(cohort), **_counts(cohort)}
            | {role: figures(labelled, role, costs) for role in roles}
        )
    return out


def evidently_metrics(labelled: pd.DataFrame, role: str, threshold: float) -> dict[str, Any]:
    """Evidently's classification preset on the labelled applicants: accuracy, precision,
    recall, F1, ROC AUC, log loss, TPR/TNR/FPR/FNR at the model's threshold."""
    probability = COLUMNS[role][0]
    scored = labelled[labelled[probability].notna()]
    y = (scored["realised"] == BAD).astype(int)
    if y.nunique() < 2:
        return {}
    data = pd.DataFrame({"target": y.to_numpy(), "probability": scored[probability].to_numpy()})
    definition = DataDefinition(
        classification=[BinaryClassification(target="target", prediction_probas="probability")],
        numerical_columns=["probability"],
    )
    snapshot = Report([ClassificationPreset(probas_threshold=threshold)]).run(
        Dataset.from_pandas(data, data_definition=definition), None
    )
    return {
        m["config"]["type"].split(":")[-1]: _round(m["value"])
        for m in snapshot.dict()["metrics"]
        if isinstance(m["value"], int | float)
    }


def training_figures(scorer: Scorer | None) -> dict[str, float | None]:
    """What the model showed on its hold-out set, from its bundle's metadata."""
    stored = {} if scorer is None else scorer.metadata.get("metrics", {})
    return {ours: _round(stored.get(theirs)) for theirs, ours in TRAINING_FIGURES.items()}


def alerts(overall: dict[str, Any], roles: list[str], settings: MonitoringSettings) -> list[str]:
    """Realised AUC below the bound; observed default rate off the predicted one."""
    found = []
    for role in roles:
        model = overall.get(role)
        if not model or model.get("roc_auc") is None:
            continue
        if model["roc_auc"] < settings.min_auc:
            found.append(
                f"{role}: realised ROC AUC {model['roc_auc']:.3f} is below the bound"
                f" {settings.min_auc} (CREDIT_MIN_AUC)"
            )
        expected, observed, n = model["expected_bad_rate"], model["bad_rate"], model["applicants"]
        gap = abs(observed - expected)
        if gap > settings.calibration_tolerance * expected and gap > 2 * math.sqrt(
            expected * (1 - expected) / n
        ):
            found.append(
                f"{role}: observed default rate {observed:.3f} against {expected:.3f} predicted"
                f" (tolerance {settings.calibration_tolerance:.0%}, CREDIT_CALIBRATION_TOLERANCE)"
            )
    return found


def build(log_path: Path, options: Options) -> dict[str, Any]:
    """The realised-performance report of the record at ``log_path`` as plain JSON."""
    rows = decisions(log_path, options.window)
    versions = served_versions(rows)
    rows = rows[rows["model_version"] == versions[CHAMPION]]
    frame = with_outcomes(rows, log_path, options.window_months, options.as_of)
    if frame["defaulted"].notna().sum() == 0:
        raise ReportError(
            f"no outcome recorded for the {len(frame)} applicants {versions[CHAMPION]} decided"
            " in the window: record them first (credit-scoring outcomes FILE.csv, POST /outcomes)"
        )
    roles = [r for r in (CHAMPION, CHALLENGER) if r in versions]
    scorers = {role: stored_scorer(versions[role]) for role in roles}
    champion = scorers[CHAMPION]
    costs = champion.costs if champion is not None else DEFAULT_COSTS
    labelled = frame[frame["realised"].isin([BAD, GOOD])]
    table = cohorts(frame, roles, costs, options.freq)
    settings = MonitoringSettings()
    refused = frame["decision"] == "refused"
    refused_with_outcome = int((frame["defaulted"].notna() & refused).sum())
    return {
        "as_of": options.as_of.isoformat(),
        "window": options.window.to_dict(),
        "performance_window_months": options.window_months,
        "models": {
            role: {"model_version": versions[role], "training": training_figures(scorers[role])}
            for role in roles
        },
        "costs": {"fn_cost": costs.fn_cost, "fp_cost": costs.fp_cost},
        "refused_with_outcome": refused_with_outcome,
        "complete_information": refused_with_outcome > 0,
        "cohorts": table,
        # At each model's threshold: left out for a model whose bundle is not in the store.
        "evidently": {
            role: evidently_metrics(labelled, role, scorer.threshold)
            for role, scorer in scorers.items()
            if scorer is not None
        },
        "alerts": alerts(table[-1], roles, settings),
    }


def _html(report: dict[str, Any]) -> str:
    """The report as one page: a table per model over the cohorts, bands of all of them."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Realised performance</title>",
        "<body style='font-family:sans-serif'><h1>Realised performance</h1>",
        f"<p>As of {report['as_of']}; performance window {report['performance_window_months']}"
        " months: an applicant whose window is still open is <b>immature</b>, not good.</p>",
    ]
    if report["complete_information"]:
        parts.append(
            f"<p><b>Complete information</b>: {report['refused_with_outcome']} refused applicants"
            " have outcomes (synthetic traffic); real outcomes follow granted loans only.</p>"
        )
    parts.append("<h2>Alerts</h2><ul>")
    parts += [f"<li>{a}</li>" for a in report["alerts"]] or ["<li>none</li>"]
    parts.append("</ul>")
    for role, model in report["models"].items():
        parts.append(f"<h2>{role}: {model['model_version']}</h2>")
        rows = [
            {"cohort": c["cohort"], "immature": c["immature"], **(c[role] or {})}
            for c in report["cohorts"]
        ]
        training = {"cohort": "training (hold-out)", **model["training"]}
        table = pd.DataFrame([*rows, training]).drop(columns=["bands"], errors="ignore")
        parts.append(table.to_html(index=False, na_rep=""))
        bands = (report["cohorts"][-1][role] or {}).get("bands")
        if bands:
            parts.append("<h3>Bad rate and calibration per band (all cohorts)</h3>")
            parts.append(pd.DataFrame(bands).to_html(index=False))
        evidently = report["evidently"].get(role, {})
        parts.append("<h3>Evidently classification metrics</h3>")
        parts.append(pd.Series(evidently, dtype=object).to_frame("value").to_html())
    return "\n".join(parts)


def write(report: dict[str, Any], folder: Path) -> list[Path]:
    return write_report(report, _html(report), folder, "performance")


def describe(report: dict[str, Any]) -> str:
    """One line per model, for the console: realised AUC (CI) against training, the alerts."""
    overall = report["cohorts"][-1]
    lines = [
        f"{overall['applicants']} applicants: {overall['bad']} bad, {overall['good']} good,"
        f" {overall['immature']} immature, {overall['no_outcome']} without outcome"
    ]
    for role, model in report["models"].items():
        figures_ = overall.get(role) or {}
        trained = model["training"].get("roc_auc")
        auc = figures_.get("roc_auc")
        realised = (
            "no AUC"
            if auc is None
            else f"AUC {auc:.3f} [{figures_['roc_auc_low']:.3f}, {figures_['roc_auc_high']:.3f}]"
        )
        lines.append(
            f"{role} {model['model_version']}: realised {realised}"
            f" (training {'n/a' if trained is None else f'{trained:.3f}'})"
        )
    lines += [f"ALERT {a}" for a in report["alerts"]]
    return "\n".join(lines)
