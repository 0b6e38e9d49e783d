"""Home Credit's input schema: the 120 raw fields of an application, from the published facts
of ``application_train.csv``, with validation bounds from each field's physical domain."""

from __future__ import annotations

import numpy as np
import pandas as pd

from credit_scoring.core.schema import FieldSpec, InputSchema
from credit_scoring.profiles.home_credit.reference import (
    ID_COLUMN,
    NAME,
    SENTINEL_DAYS,
    TARGET_COLUMN,
    ColumnFacts,
    application_columns,
)
from credit_scoring.profiles.home_credit.tables import HISTORY_TABLES

_HUNDRED_YEARS_IN_DAYS = -36525
# Attributes credit law forbids deciding on (EU AI Act, Art. 10 bias examination; US ECOA /
# Regulation B: sex, age, marital status): audited, never model inputs by default.
PROTECTED = ("CODE_GENDER", "DAYS_BIRTH", "NAME_FAMILY_STATUS")
_AGE_EDGES = [0, 25, 35, 45, 55, 200]  # years; the usual bands of credit fairness reviews
_AGE_LABELS = ["under 25", "25-34", "35-44", "45-54", "55 and over"]
_DAYS_PER_YEAR = 365.25


def age_bands(days_birth: pd.Series) -> pd.Series:
    """Applicants' ages in years, as the bands an audit reports (DAYS_BIRTH counts days back)."""
    years = -pd.to_numeric(days_birth, errors="coerce") / _DAYS_PER_YEAR
    bands = pd.cut(years, _AGE_EDGES, right=False, labels=_AGE_LABELS)
    return bands.astype(object).where(bands.notna(), np.nan)


# Categories with a natural order, lowest first: coded as ranks (core.features), so a model
# reads "more education" as one direction instead of five unrelated levels.
ORDERS = {
    "NAME_EDUCATION_TYPE": (
        "Lower secondary",
        "Secondary / secondary special",
        "Incomplete higher",
        "Higher education",
        "Academic degree",
    ),
}


def _bounds(facts: ColumnFacts) -> tuple[float | None, float | None]:
    """Validation bounds: the physical domain, not just what 307,511 clients happened to show.

    Days are offsets before the application (<= 0; at most 100 years back); shares, scores and
    flags observed within [0, 1] stay there; ratings and hours keep their scale; amounts and
    counts are open above.
    """
    low, high = facts.stats["min"], facts.stats["max"]
    if facts.name.startswith("DAYS_"):
        upper = SENTINEL_DAYS if facts.name == "DAYS_EMPLOYED" else 0
        return _HUNDRED_YEARS_IN_DAYS, upper
    lower = 0.0 if low >= 0 else low
    if high <= 1:
        return lower, 1.0
    if facts.name == "HOUR_APPR_PROCESS_START":
        return 0, 23
    if facts.name.startswith("REGION_RATING"):
        return 1, 3
    return lower, None


def _spec(facts: ColumnFacts) -> FieldSpec:
    protected = facts.name in PROTECTED
    if facts.is_categorical:
        return FieldSpec(
            facts.name,
            "categorical",
            categories=tuple(sorted(facts.categories)),
            description=facts.description,
            protected=protected,
            order=ORDERS.get(facts.name, ()),
        )
    low, high = _bounds(facts)
    integer = facts.dtype == "int64"
    return FieldSpec(
        facts.name,
        "numeric",
        integer=integer,
        minimum=low,
        maximum=high,
        description=facts.description,
        protected=protected,
    )


def home_credit_schema() -> InputSchema:
    """The 120 raw fields of a Home Credit application (all columns but id and target), with
    the six history tables."""
    columns = [c for c in application_columns() if c.name not in (ID_COLUMN, TARGET_COLUMN)]
    return InputSchema(
        fields=tuple(_spec(c) for c in columns),
        id_column=ID_COLUMN,
        target_column=TARGET_COLUMN,
        name=NAME,
        profile=NAME,
        tables=HISTORY_TABLES,
    )
