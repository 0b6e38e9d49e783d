"""A refusal's reasons as a credit officer writes them to the applicant, and the fairness audit
as tables: plain functions of the service's answers, so that they are tested without a page."""

from __future__ import annotations

from typing import Any

import pandas as pd

NOT_AUDITED = (
    "Not audited: the served model carries no fairness audit (`fairness` in /metadata). "
    "Retrain and promote it with a version that audits decisions across groups."
)
# The unit an answer names -> how a number in it is written.
_WRITTEN = {
    "%": "{:g}%",
    "years": "{:g} years",
    "years ago": "{:g} years",
    "months ago": "{:g} months",
    "days": "{:g} days",
    "ratio": "{:g}x",
}


def written(value: float | str | None, unit: str) -> str:
    """A value as an officer writes it: 25.9 years, 12.5%, 202,500.00, 3."""
    if value is None:
        return "unknown"
    if isinstance(value, str):
        return value
    if unit == "currency":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return _WRITTEN.get(unit, "{:g}").format(value)


def sentences(reasons: list[dict[str, Any]]) -> list[str]:
    """One line per principal reason: the statement, the applicant's value and what granted
    applicants typically have."""
    return [
        f"{r['reason']}: {written(r['value'], r['unit'])} "
        f"(typical of granted applicants: {written(r['reference'], r['unit'])})"
        for r in reasons
    ]


def letter(reasons: list[dict[str, Any]]) -> str:
    """The principal reasons as a numbered Markdown list."""
    if not reasons:
        return "No principal reason could be stated from the model's factors."
    return "\n".join(f"{i}. {line}" for i, line in enumerate(sentences(reasons), start=1))


def fairness_tables(fairness: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The audit's tables (a list of rows, or a mapping of group -> figures) and its other
    figures, whatever the audit's keys are."""
    tables, figures = {}, {}
    for key, value in fairness.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables[key] = pd.DataFrame(value)
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            tables[key] = pd.DataFrame.from_dict(value, orient="index")
        else:
            figures[key] = value
    return tables, figures
