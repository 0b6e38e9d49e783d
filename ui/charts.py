"""Charts of one score and of the model, built from the service's answers (Altair, which
Streamlit ships with). Positive SHAP contributions push towards refusal: drawn red."""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import pandas as pd

RISK_UP, RISK_DOWN = "#c0392b", "#1e8449"
BAR_STEP = 24  # pixels per bar: heights given as steps survive Streamlit's chart sizing


def probability_gauge(probability: float, threshold: float) -> alt.LayerChart:
    """A bullet bar on [0, 1]: the probability, coloured by the decision; a tick at the
    threshold (a tick, not a rule: Streamlit's theme hides a rule without a y encoding)."""
    refused = probability >= threshold
    data = pd.DataFrame({"probability": [probability], "threshold": [threshold], "row": [""]})
    y = alt.Y("row:N", title=None, axis=None)
    bar = (
        alt.Chart(data)
        .mark_bar(size=26, color=RISK_UP if refused else RISK_DOWN)
        .encode(
            x=alt.X(
                "probability:Q",
                scale=alt.Scale(domain=[0, 1]),
                title=f"probability of default; black tick: threshold {threshold:.3f}",
            ),
            y=y,
            tooltip=[alt.Tooltip("probability:Q", format=".3f")],
        )
    )
    tick = (
        alt.Chart(data).mark_tick(color="black", thickness=3, size=40).encode(x="threshold:Q", y=y)
    )
    return (bar + tick).properties(height=alt.Step(44))


def waterfall_rows(
    base_value: float, contributions: list[dict[str, Any]], top: int = 10
) -> pd.DataFrame:
    """Start and end (log-odds) of each step: base value, the ``top`` largest contributions,
    then the rest summed into one step, so the last end is the model's log-odds."""
    shown, rest = contributions[:top], contributions[top:]
    steps = [(f"{c['feature']} = {fmt_value(c['value'])}", c["contribution"]) for c in shown]
    if rest:
        steps.append((f"{len(rest)} other features", sum(c["contribution"] for c in rest)))
    rows, position = [], base_value
    for order, (label, contribution) in enumerate(steps):
        rows.append(
            {
                "order": order,
                "step": label,
                "start": position,
                "end": position + contribution,
                "contribution": contribution,
                "direction": "towards refusal" if contribution > 0 else "towards grant",
            }
        )
        position += contribution
    return pd.DataFrame(rows)


def waterfall(
    base_value: float, contributions: list[dict[str, Any]], probability: float, top: int = 10
) -> alt.Chart:
    """The model's log-odds built up from the base value; the probability shown is the
    service's calibrated one (calibration maps the log-odds monotonically)."""
    rows = waterfall_rows(base_value, contributions, top)
    log_odds = rows["end"].iloc[-1] if len(rows) else base_value
    title = (
        f"log-odds: base {base_value:.2f} -> {log_odds:.2f} "
        f"(calibrated probability {probability:.3f})"
    )
    return (
        alt.Chart(rows, title=title)
        .mark_bar()
        .encode(
            y=alt.Y(
                "step:N", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelLimit=320)
            ),
            x=alt.X("start:Q", title="log-odds of default", scale=alt.Scale(zero=False)),
            x2="end:Q",
            color=_direction_colour(),
            tooltip=["step", alt.Tooltip("contribution:Q", format="+.3f")],
        )
        .properties(height=alt.Step(BAR_STEP))
    )


def importance_table(importance: dict[str, float]) -> pd.DataFrame:
    """The service's global importance (mean |SHAP| over its reference sample) as a table."""
    return pd.DataFrame({"feature": list(importance), "mean_abs_shap": list(importance.values())})


def importance_bars(table: pd.DataFrame, top: int = 15) -> alt.Chart:
    rows = table.head(top)
    return (
        alt.Chart(rows)
        .mark_bar(color="#2e86c1")
        .encode(
            y=alt.Y("feature:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320)),
            x=alt.X("mean_abs_shap:Q", title="mean |SHAP| (log-odds)"),
            tooltip=[
                "feature",
                alt.Tooltip("mean_abs_shap:Q", format=".3f"),
            ],
        )
        .properties(height=alt.Step(BAR_STEP))
    )


def _direction_colour() -> alt.Color:
    return alt.Color(
        "direction:N",
        scale=alt.Scale(domain=["towards refusal", "towards grant"], range=[RISK_UP, RISK_DOWN]),
        legend=alt.Legend(title=None),  # orient="bottom" collapses the chart in Streamlit
    )


def fmt_value(value: Any) -> str:
    """An applicant's value for a label: missing (None, or NaN once in a DataFrame), amounts
    with thousands separators, ratios and scores to 3 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)
