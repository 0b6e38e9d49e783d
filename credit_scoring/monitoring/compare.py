"""Champion against challenger on the same applicants, from the decision record's shadow
results (``LoggedDecision.challenger``): what would change if the challenger decided.

Over a time window of ``predict``/``score`` rows that carry a challenger answer: agreement
rate, the two swap sets (*swap-out*: the challenger would refuse whom the champion granted;
*swap-in*: the challenger would grant whom the champion refused) with their counts and score
distributions, the PSI between the two models' score distributions (Evidently, as the drift
report), each model's approval rate, each one's approval rate per group of every protected
attribute with its adverse impact ratio (the audit's groups, ``core.groups``), and the
observed bad rates where outcomes can exist.

Real outcomes only follow granted loans: applicants the champion refused were never lent to,
so the swap-in set has no outcomes and the report says so, imputing nothing. On synthetic
traffic the generator draws an outcome for every applicant: the report shows them, flagged
as complete information.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift

from credit_scoring.core.groups import MIN_GROUP_ROWS, MISSING, group_labels
from credit_scoring.core.outcomes import BAD, GOOD, IMMATURE
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

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# PSI bins the champion's scores in ten; with fewer decisions a bin holds a handful and the
# index is noise (dozens of identical decisions can read as a "major shift").
MIN_PSI_DECISIONS = 100
SETS = {  # set -> (champion decision, challenger decision)
    "agree_granted": ("granted", "granted"),
    "agree_refused": ("refused", "refused"),
    "swap_out": ("granted", "refused"),  # the challenger would refuse whom the champion granted
    "swap_in": ("refused", "granted"),  # the challenger would grant whom the champion refused
}


def shadowed(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows with a challenger answer, and the challenger's failures counted by error."""
    if "challenger_model_version" not in rows or rows["challenger_model_version"].isna().all():
        raise ReportError(
            f"none of the {len(rows)} decisions in the window carries a challenger result:"
            " promote a challenger (promote --challenger) and send traffic"
        )
    errors = rows["challenger_error"].dropna().value_counts()
    return rows[rows["challenger_decision"].notna()], {str(k): int(v) for k, v in errors.items()}


def swap_sets(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rows of each set of ``SETS``."""
    return {
        name: rows[(rows["decision"] == mine) & (rows["challenger_decision"] == theirs)]
        for name, (mine, theirs) in SETS.items()
    }


def _distribution(values: pd.Series) -> dict[str, float | None]:
    if values.empty:
        return {f"p{round(100 * q)}": None for q in QUANTILES}
    return {f"p{round(100 * q)}": round(float(values.quantile(q)), 4) for q in QUANTILES}


def psi(champion: pd.Series, challenger: pd.Series) -> float | None:
    """PSI of the challenger's probabilities against the champion's (Evidently); None below
    ``MIN_PSI_DECISIONS``."""
    if len(champion) < MIN_PSI_DECISIONS:
        return None
    definition = DataDefinition(numerical_columns=["probability"])
    snapshot = Report([ValueDrift(column="probability", method="psi")]).run(
        Dataset.from_pandas(challenger.to_frame("probability"), data_definition=definition),
        Dataset.from_pandas(champion.to_frame("probability"), data_definition=definition),
    )
    return round(float(snapshot.dict()["metrics"][0]["value"]), 4)


def fairness(rows: pd.DataFrame, protected: list[str], schema: Any) -> dict[str, Any]:
    """Per protected attribute logged with the requests: each model's approval rate per group
    (groups of fewer than ``MIN_GROUP_ROWS`` left out) and its adverse impact ratio (the
    group's rate over the most approved group's)."""
    out: dict[str, Any] = {}
    for name in protected:
        if name not in rows or rows[name].isna().all():
            out[name] = {"why_not": "not logged with the requests"}
            continue
        labels = group_labels(rows[name], name, schema)
        groups: dict[str, Any] = {}
        for role, column in ((CHAMPION, "decision"), (CHALLENGER, "challenger_decision")):
            granted = (rows[column] == "granted").groupby(labels).agg(["size", "mean"])
            granted = granted[(granted["size"] >= MIN_GROUP_ROWS) & (granted.index != MISSING)]
            best = granted["mean"].max()
            groups[role] = {
                str(g): {
                    "applicants": int(r["size"]),
                    "approval_rate": round(float(r["mean"]), 4),
                    "adverse_impact_ratio": round(float(r["mean"] / best), 4) if best else None,
                }
                for g, r in granted.iterrows()
            }
        out[name] = groups
    return out


def _bad_rates(frame: pd.DataFrame) -> dict[str, Any]:
    """Observed outcomes of one set's applicants: bads and goods (mature), immature."""
    labels = frame["realised"].value_counts()
    bads, goods = int(labels.get(BAD, 0)), int(labels.get(GOOD, 0))
    return {
        "applicants": len(frame),
        "bads": bads,
        "goods": goods,
        "immature": int(labels.get(IMMATURE, 0)),
        "bad_rate": round(bads / (bads + goods), 4) if bads + goods else None,
    }


def outcomes_by_set(
    rows: pd.DataFrame, log_path: Path, window_months: int, as_of: pd.Timestamp
) -> dict[str, Any]:
    """Observed bad rates per set. The sets the champion refused have outcomes only when
    every applicant's outcome is known (synthetic traffic): flagged, never imputed."""
    frame = with_outcomes(rows, log_path, window_months, as_of)
    sets = swap_sets(frame)
    refused_known = int(
        sum(sets[s]["defaulted"].notna().sum() for s in ("agree_refused", "swap_in"))
    )
    out: dict[str, Any] = {name: _bad_rates(rows_) for name, rows_ in sets.items()}
    out["complete_information"] = refused_known > 0
    if refused_known:
        out["note"] = (
            f"{refused_known} applicants the champion refused have outcomes: complete"
            " information (synthetic traffic). Real outcomes follow granted loans only."
        )
    else:
        out["note"] = (
            "the champion refused the swap-in applicants, so they were never lent to and have"
            " no outcome: their bad rate is unknown and nothing is imputed"
        )
        for name in ("agree_refused", "swap_in"):
            out[name] = {"applicants": len(sets[name]), "bad_rate": None}
    return out


def build(log_path: Path, window: Window, as_of: pd.Timestamp | None = None) -> dict[str, Any]:
    """The comparison report of the record at ``log_path`` as plain JSON."""
    rows = decisions(log_path, window)
    versions = served_versions(rows)
    rows, errors = shadowed(rows[rows["model_version"] == versions[CHAMPION]])
    if rows.empty:
        raise ReportError(f"the challenger failed on every decision in the window: {errors}")
    sets = swap_sets(rows)
    scorer = stored_scorer(versions[CHAMPION])
    settings = MonitoringSettings()
    champion_p, challenger_p = rows["probability"], rows["challenger_probability"].astype(float)
    report: dict[str, Any] = {
        "window": window.to_dict(),
        "window_text": window.describe(),
        "models": versions,
        "decisions": len(rows),
        "challenger_errors": errors,
        "agreement_rate": round(float((rows["decision"] == rows["challenger_decision"]).mean()), 4),
        "approval_rate": {
            CHAMPION: round(float((rows["decision"] == "granted").mean()), 4),
            CHALLENGER: round(float((rows["challenger_decision"] == "granted").mean()), 4),
        },
        "psi": psi(champion_p, challenger_p),
        "psi_min_decisions": MIN_PSI_DECISIONS,
        "mean_probability": {
            CHAMPION: round(float(champion_p.mean()), 4),
            CHALLENGER: round(float(challenger_p.mean()), 4),
        },
        "sets": {
            name: {
                "count": len(frame),
                "share": round(len(frame) / len(rows), 4),
                CHAMPION: _distribution(frame["probability"]),
                CHALLENGER: _distribution(frame["challenger_probability"].astype(float)),
            }
            for name, frame in sets.items()
        },
        "fairness": (
            {"why_not": f"{versions[CHAMPION]} is not in the BentoML store"}
            if scorer is None
            else fairness(rows, scorer.schema.protected, scorer.schema)
        ),
    }
    if rows["client_id"].notna().any():
        report["outcomes"] = outcomes_by_set(
            rows,
            log_path,
            settings.performance_window_months,
            as_of or pd.Timestamp.now(tz="UTC"),
        )
    return report


def _sets_table(sets: dict[str, Any]) -> str:
    """The sets' counts and score quantiles (5th, median, 95th: all of them in the JSON) as
    an HTML table."""
    shown = ("p5", "p50", "p95")
    table = pd.DataFrame(
        [
            {"set": name, "count": s["count"], "share": f"{s['share']:.1%}"}
            | {f"champion {k}": s[CHAMPION][k] for k in shown}
            | {f"challenger {k}": s[CHALLENGER][k] for k in shown}
            for name, s in sets.items()
        ]
    )
    return table.to_html(index=False, na_rep="")


def _fairness_table(fairness_: dict[str, Any]) -> str:
    """One row per attribute and group: each model's applicants, approval rate and AIR."""
    if "why_not" in fairness_:  # no audit groups: the champion's bundle is not in the store
        return f"<p>Not computed: {fairness_['why_not']}.</p>"
    rows, notes = [], []
    for attribute, groups in fairness_.items():
        if "why_not" in groups:
            notes.append(f"<p>{attribute}: {groups['why_not']}.</p>")
            continue
        for group in groups[CHAMPION]:
            row: dict[str, Any] = {"attribute": attribute, "group": group}
            for role in (CHAMPION, CHALLENGER):
                figures = groups[role].get(group, {})
                row[f"{role} applicants"] = figures.get("applicants")
                row[f"{role} approval"] = figures.get("approval_rate")
                row[f"{role} AIR"] = figures.get("adverse_impact_ratio")
            rows.append(row)
    table = pd.DataFrame(rows).astype(object).to_html(index=False, na_rep="") if rows else ""
    return table + "".join(notes)


def _outcomes_table(outcomes: dict[str, Any]) -> str:
    rows = [
        {"set": name} | figures
        for name, figures in outcomes.items()
        if name not in ("note", "complete_information")
    ]
    return pd.DataFrame(rows).astype(object).to_html(index=False, na_rep="unknown")


def _html(report: dict[str, Any]) -> str:
    errors = ", ".join(f"{n} {e}" for e, n in report["challenger_errors"].items()) or "none"
    psi_text = (
        f"{report['psi']}"
        if report["psi"] is not None
        else f"not computed (fewer than {report['psi_min_decisions']} decisions)"
    )
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Champion vs challenger</title>",
        "<style>body{font-family:sans-serif} table{border-collapse:collapse}"
        " td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style>",
        "<body><h1>Champion vs challenger</h1>",
        f"<p>Champion <b>{report['models'][CHAMPION]}</b>, challenger"
        f" <b>{report['models'][CHALLENGER]}</b>: {report['decisions']} decisions"
        f" {report['window_text']}. Challenger errors: {errors}.</p>",
        f"<p>Agreement {report['agreement_rate']:.1%}; approval rate champion"
        f" {report['approval_rate'][CHAMPION]:.1%}, challenger"
        f" {report['approval_rate'][CHALLENGER]:.1%}; PSI between the score distributions"
        f" {psi_text}.</p>",
        "<h2>Swap sets</h2>",
        "<p>swap_out: the challenger would refuse whom the champion granted; swap_in: the"
        " challenger would grant whom the champion refused.</p>",
        _sets_table(report["sets"]),
        "<h2>Fairness: approval rate and adverse impact ratio (AIR) per group</h2>",
        _fairness_table(report["fairness"]),
    ]
    if "outcomes" in report:
        outcomes = report["outcomes"]
        parts.append(f"<h2>Observed outcomes</h2><p>{outcomes['note'].rstrip('.')}.</p>")
        parts.append(_outcomes_table(outcomes))
    return "\n".join(parts)


def write(report: dict[str, Any], folder: Path) -> list[Path]:
    return write_report(report, _html(report), folder, "compare")


def describe(report: dict[str, Any]) -> str:
    sets = report["sets"]
    return (
        f"{report['decisions']} decisions: agreement {report['agreement_rate']:.1%}, swap-out"
        f" {sets['swap_out']['count']}, swap-in {sets['swap_in']['count']}; approval champion"
        f" {report['approval_rate'][CHAMPION]:.1%} / challenger"
        f" {report['approval_rate'][CHALLENGER]:.1%}; PSI"
        f" {'n/a (too few decisions)' if report['psi'] is None else report['psi']}"
    )
