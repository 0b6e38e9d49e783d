"""Raw applications (+ their history rows) -> model matrix. The one feature function, used by
training and serving, for every dataset profile.

The matrix is all float64 (categories as their index in the schema's category list; an
ordinal field's list is its declared order, so its codes are ranks), so the
service can score a batch with one ``booster.predict`` on a NumPy array and training and
serving agree on every code by construction. After the raw fields come the columns the
schema's profile adds (Home Credit: engineered ratios and history aggregates).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from credit_scoring.core.profile import get_profile
from credit_scoring.core.schema import InputSchema
from credit_scoring.core.tables import Histories


def _encoded(raw: pd.DataFrame, schema: InputSchema) -> np.ndarray:
    """The raw fields as one float matrix: numbers as they are (unparsable ones NaN),
    categories as their index in the schema's list (unknown or missing ones NaN). One NumPy
    conversion for all numeric fields: a pandas call per field cost ~8 ms per request."""
    matrix = np.full(raw.shape, np.nan)
    numeric = [i for i, spec in enumerate(schema.fields) if spec.kind == "numeric"]
    try:
        matrix[:, numeric] = raw.iloc[:, numeric].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):  # text in a numeric column (a CSV): parse column by column
        for i in numeric:
            matrix[:, i] = pd.to_numeric(raw.iloc[:, i], errors="coerce").to_numpy(float)
    for i, spec in enumerate(schema.fields):
        if spec.kind == "categorical":
            codes = _category_codes(spec.categories)
            values = raw.iloc[:, i].to_numpy(object)
            matrix[:, i] = np.fromiter((codes.get(v, np.nan) for v in values), float, len(raw))
    return matrix


@cache
def _category_codes(categories: tuple[str, ...]) -> dict[str, float]:
    return {label: float(code) for code, label in enumerate(categories)}


def build_features(
    applications: pd.DataFrame, schema: InputSchema, histories: Histories | None = None
) -> pd.DataFrame:
    """One row of model features per application, columns in ``feature_names(schema)`` order.

    Fields absent from ``applications`` count as missing; columns outside the schema (id,
    target) are ignored, except the id, which links the rows of ``histories`` (table name ->
    DataFrame with the profile's columns). Without histories, or for a client without rows,
    history counts are 0 and statistics NaN. Infinite values (a ratio over 0) become NaN.
    """
    raw = applications.reindex(columns=schema.names)
    encoded = pd.DataFrame(
        _encoded(raw, schema), index=raw.index, columns=schema.names, dtype=float
    )
    extra = get_profile(schema.profile).features(encoded, applications, histories, schema.tables)
    names = list(encoded.columns) + extra.names
    matrix = np.column_stack([encoded.to_numpy(), *extra.blocks])
    matrix[np.isinf(matrix)] = np.nan
    return pd.DataFrame(matrix, index=raw.index, columns=names)


def feature_names(schema: InputSchema) -> list[str]:
    """The model's columns for this schema, computed from an empty frame: no second list."""
    return list(build_features(pd.DataFrame(columns=schema.names), schema).columns)


def categorical_features(schema: InputSchema) -> list[str]:
    """The features models treat as unordered levels. An ordinal field is not one of them:
    its codes are ranks, which a tree splits and a linear model weighs as one number."""
    return [spec.name for spec in schema.categorical if not spec.ordinal]
