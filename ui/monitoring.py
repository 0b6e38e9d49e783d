"""The monitoring page: decisions and approval rate per cohort, score distribution, drift,
realised performance and champion against challenger, read from the JSON reports the
monitoring commands write (``credit-scoring drift``, ``performance``, ``compare``, or
``make outcomes-demo``) under the reports folder. Plain files: the page imports nothing of
the package and asks the service nothing more than the other pages do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

REPORTS = {  # what -> the report file under the reports folder, newest run first
    "performance": ("performance/performance.json", "performance-shifted/performance.json"),
    "compare": ("compare/compare.json", "compare-shifted/compare.json"),
    "drift": ("drift/summary.json",),
}


def latest(folder: Path, what: str) -> tuple[Path, dict[str, Any]] | None:
    """The most recently written report of a kind, or None when none was written."""
    paths = [folder / name for name in REPORTS[what] if (folder / name).is_file()]
    if not paths:
        return None
    path = max(paths, key=lambda p: p.stat().st_mtime)
    return path, json.loads(path.read_text("utf-8"))


def cohort_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per cohort and model: applicants, approval and bad rate, AUC with its CI."""
    rows = []
    for cohort in report["cohorts"]:
        for role in report["models"]:
            figures = cohort.get(role) or {}
            rows.append(
                {"cohort": cohort["cohort"], "model": role, "immature": cohort["immature"]}
                | {k: figures.get(k) for k in ("applicants", "approval_rate", "bad_rate",
                                                "expected_bad_rate", "roc_auc", "roc_auc_low",
                                                "roc_auc_high", "ks", "cost_per_applicant")}
            )  # fmt: skip
    return pd.DataFrame(rows)


def performance_section(found: tuple[Path, dict[str, Any]] | None) -> None:
    st.subheader("Realised performance")
    if found is None:
        st.info("No performance report yet: `credit-scoring performance` (or make outcomes-demo).")
        return
    path, report = found
    st.caption(
        f"{path} · as of {report['as_of']} · window {report['performance_window_months']} months"
    )
    for alert in report["alerts"]:
        st.error(alert)
    table = cohort_table(report)
    st.dataframe(table, hide_index=True)
    training = pd.DataFrame({role: m["training"] for role, m in report["models"].items()}).T
    st.markdown("Training (hold-out) figures")
    st.dataframe(training)
    per_cohort = table[table["cohort"] != "all"].pivot(
        index="cohort", columns="model", values="approval_rate"
    )
    if len(per_cohort):
        st.markdown("Approval rate per cohort")
        st.line_chart(per_cohort)


def compare_section(found: tuple[Path, dict[str, Any]] | None) -> None:
    st.subheader("Champion vs challenger")
    if found is None:
        st.info("No comparison yet: promote a challenger, send traffic, `credit-scoring compare`.")
        return
    path, report = found
    st.caption(f"{path} · {report['models']}")
    columns = st.columns(3)
    columns[0].metric("Agreement", f"{report['agreement_rate']:.1%}")
    columns[1].metric("PSI between scores", "n/a" if report["psi"] is None else report["psi"])
    columns[2].metric("Decisions", report["decisions"])
    sets = pd.DataFrame(
        {
            name: {
                "count": s["count"],
                "share": s["share"],
                "champion median": s["champion"]["p50"],
                "challenger median": s["challenger"]["p50"],
            }
            for name, s in report["sets"].items()
        }
    ).T
    st.dataframe(sets)
    st.dataframe(pd.DataFrame(report["approval_rate"], index=["approval rate"]))


def drift_section(found: tuple[Path, dict[str, Any]] | None) -> None:
    st.subheader("Input drift and score distribution")
    if found is None:
        st.info("No drift report yet: `credit-scoring drift` (make drift).")
        return
    path, summary = found
    st.caption(
        f"{path} · {summary['current_rows']} applications"
        f" vs {summary['reference_rows']} reference rows"
    )
    (st.warning if summary["dataset_drift"] else st.success)(
        f"dataset drift: {summary['dataset_drift']} ({summary['drifted_share']:.0%} of fields)"
    )
    st.dataframe(pd.DataFrame(summary["decisions"], index=["value"]).T)
    st.bar_chart(pd.Series(summary["psi"], name="PSI"))
    image = path.with_name("scores_over_time.png")
    if image.is_file():
        st.image(str(image), caption="score distribution, score and refusal rate over time")


def monitoring_view(reports_dir: Path) -> None:
    """The three sections, each from its newest report."""
    st.header("Monitoring")
    performance_section(latest(reports_dir, "performance"))
    compare_section(latest(reports_dir, "compare"))
    drift_section(latest(reports_dir, "drift"))
