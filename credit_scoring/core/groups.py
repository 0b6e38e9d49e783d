"""The groups of the protected attributes, as the fairness audit (``pipeline.fairness``) and
the monitoring reports (``monitoring.compare``) both label them: one definition, so a ratio
on live traffic is comparable with the one the promotion gate read."""

from __future__ import annotations

import pandas as pd

from credit_scoring.core.profile import get_profile
from credit_scoring.core.schema import InputSchema

MISSING = "missing"
MIN_GROUP_ROWS = 30  # fewer applicants in a group: rates too noisy to audit or to gate on


def group_labels(values: pd.Series, name: str, schema: InputSchema) -> pd.Series:
    """A protected column as readable audit groups: the profile's banding when it has one
    (age bands from a birth date), categories as they are, other numbers by quartile."""
    banding = get_profile(schema.profile).audit_groups.get(name)
    if banding is not None:
        labels = banding(values)
    elif schema.field(name).kind == "categorical":
        labels = values.astype(object)
    else:
        numbers = pd.to_numeric(values, errors="coerce")
        labels = pd.qcut(numbers, 4, duplicates="drop").astype(str).where(numbers.notna())
    return labels.astype(object).where(labels.notna(), MISSING).astype(str)


def audit_groups(applications: pd.DataFrame, schema: InputSchema) -> pd.DataFrame:
    """One column of group labels per protected attribute."""
    return pd.DataFrame(
        {name: group_labels(applications[name], name, schema) for name in schema.protected},
        index=applications.index,
    )
