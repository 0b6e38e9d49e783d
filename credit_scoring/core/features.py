"""Raw applications (+ their history rows) -> model matrix. The one feature function, used by
training and serving, for every dataset profile.

The matrix is all float64 (categories as their index in the schema's category list; an
ordinal field's list is its declared order, so its codes are ranks), so the
service can score a batch with one ``booster.predict`` on a NumPy array and training and
serving agree on every code by construction. After the raw fields come the columns the
schema's profile adds (Home Credit: engineered ratios and history aggregates).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from functools import cache

import numpy as np
import pandas as pd

from credit_scoring.core.dataset import DataError
from credit_scoring.core.profile import get_profile
from credit_scoring.core.schema import FieldSpec, InputSchema
from credit_scoring.core.tables import Histories


def _encoded(raw: pd.DataFrame, schema: InputSchema) -> np.ndarray:
    """The raw fields as one float matrix: numbers as they are (unparsable ones NaN),
    categories as their index in the schema's list (unknown or missing ones NaN). One NumPy
    conversion for all numeric fields and one for all categories: a pandas call per field cost
    ~8 ms per request."""
    matrix = np.full(raw.shape, np.nan)
    numeric = [i for i, spec in enumerate(schema.fields) if spec.kind == "numeric"]
    try:
        matrix[:, numeric] = raw.iloc[:, numeric].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):  # text in a numeric column (a CSV): parse column by column
        for i in numeric:
            matrix[:, i] = pd.to_numeric(raw.iloc[:, i], errors="coerce").to_numpy(float)
    categorical = [i for i, spec in enumerate(schema.fields) if spec.kind == "categorical"]
    labels = raw.iloc[:, categorical].to_numpy(object)
    for column, i in enumerate(categorical):
        codes = _category_codes(schema.fields[i].categories)
        matrix[:, i] = np.fromiter((codes.get(v, np.nan) for v in labels[:, column]), float)
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
    encoded = _encoded(raw, schema)
    # The profile reads (and may rewrite) the raw fields as column views of the matrix.
    fields = {name: encoded[:, i] for i, name in enumerate(schema.names)}
    extra = get_profile(schema.profile).features(fields, applications, histories, schema.tables)
    matrix = np.column_stack([encoded, *extra.blocks])
    matrix[np.isinf(matrix)] = np.nan
    return pd.DataFrame(matrix, index=raw.index, columns=[*schema.names, *extra.names])


def feature_names(schema: InputSchema) -> list[str]:
    """The model's columns for this schema, computed from an empty frame: no second list."""
    return list(build_features(pd.DataFrame(columns=schema.names), schema).columns)


def categorical_features(schema: InputSchema) -> list[str]:
    """The features models treat as unordered levels. An ordinal field is not one of them:
    its codes are ranks, which a tree splits and a linear model weighs as one number."""
    return [spec.name for spec in schema.categorical if not spec.ordinal]


def _probe_value(spec: FieldSpec, variant: int) -> float | str:
    """A valid value of a field, different for each ``variant`` (0..3)."""
    if spec.kind == "categorical":
        return spec.categories[variant % len(spec.categories)] if spec.categories else ""
    low, high = spec.minimum, spec.maximum
    share = (1 + 2 * variant) / 8  # 1/8, 3/8, 5/8, 7/8 of the range
    if low is not None and high is not None:
        value = low + share * (high - low)
    elif low is not None:
        value = low + 1 + 2 * variant
    elif high is not None:
        value = high - 1 - 2 * variant
    else:
        value = 1.0 + 2 * variant
    return round(value) if spec.integer else value


def _probe(schema: InputSchema, varied: set[str], variant: int) -> pd.DataFrame:
    """Two applications with fixed values, except the ``varied`` fields set to ``variant``."""
    rows = [
        {s.name: _probe_value(s, variant if s.name in varied else base) for s in schema.fields}
        for base in (0, 1)
    ]
    return pd.DataFrame(rows, columns=schema.names)


@cache
def protected_features(schema: InputSchema) -> tuple[str, ...]:
    """Every feature that carries a protected attribute: the protected fields, the fields
    declared as derived from them, and each feature the profile computes from any of them.

    The last are found by changing those fields (between valid values) in probe applications
    and seeing which features change, so a profile's new ratio of a birth date is caught
    without anyone remembering to list it."""
    carriers = set(schema.protected_inputs())
    if not carriers:
        return ()
    probes = [build_features(_probe(schema, carriers, v), schema) for v in (2, 3)]
    changed = ~np.isclose(probes[0].to_numpy(), probes[1].to_numpy(), equal_nan=True)
    moved = {
        name for name, column in zip(probes[0].columns, changed.T, strict=True) if column.any()
    }
    return tuple(n for n in probes[0].columns if n in carriers | moved)


def model_features(schema: InputSchema, include: Collection[str] = ()) -> list[str]:
    """The model's input columns: every feature but the protected ones, except the protected
    attributes named in ``include`` (an explicit, recorded choice) and what derives from them.
    """
    unknown = sorted(set(include) - set(schema.protected))
    if unknown:
        raise DataError(
            f"--include-protected {', '.join(unknown)}: not a protected attribute of schema "
            f"{schema.name!r} (protected: {', '.join(schema.protected) or 'none'})"
        )
    kept = _schema_without(schema, include)
    excluded = set(protected_features(kept))
    return [name for name in feature_names(schema) if name not in excluded]


def _schema_without(schema: InputSchema, include: Collection[str]) -> InputSchema:
    """The schema with the ``include``d attributes no longer protected (nor what derives from
    them only), so that only what stays protected is left out."""
    if not include:
        return schema
    fields = tuple(
        replace(
            f,
            protected=f.protected and f.name not in include,
            derived_from=tuple(d for d in f.derived_from if d not in include),
        )
        for f in schema.fields
    )
    return replace(schema, fields=fields)
