"""Raw applications -> model matrix. The one feature function, used by training and serving.

The matrix is all float64 (categories as their index in the schema's category list), so the
service can score a batch with one ``booster.predict`` on a NumPy array and training and
serving agree on every code by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from credit_scoring.schema import DAYS_EMPLOYED_PENSIONER, InputSchema

EXT_SOURCES = ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return numerator / denominator.where(denominator != 0)


def _engineered(raw: pd.DataFrame) -> dict[str, pd.Series]:
    """Home Credit's classic application features; each needs its inputs to be present."""
    have = set(raw.columns)
    out: dict[str, pd.Series] = {}
    if {"AMT_CREDIT", "AMT_INCOME_TOTAL", "AMT_ANNUITY"} <= have:
        out["CREDIT_INCOME_RATIO"] = _ratio(raw["AMT_CREDIT"], raw["AMT_INCOME_TOTAL"])
        out["ANNUITY_INCOME_RATIO"] = _ratio(raw["AMT_ANNUITY"], raw["AMT_INCOME_TOTAL"])
        out["ANNUITY_CREDIT_RATIO"] = _ratio(raw["AMT_ANNUITY"], raw["AMT_CREDIT"])
    if {"AMT_GOODS_PRICE", "AMT_CREDIT"} <= have:
        out["GOODS_CREDIT_RATIO"] = _ratio(raw["AMT_GOODS_PRICE"], raw["AMT_CREDIT"])
    if {"AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"} <= have:
        out["INCOME_PER_PERSON"] = _ratio(raw["AMT_INCOME_TOTAL"], raw["CNT_FAM_MEMBERS"])
    if {"DAYS_EMPLOYED", "DAYS_BIRTH"} <= have:
        out["EMPLOYED_BIRTH_RATIO"] = _ratio(raw["DAYS_EMPLOYED"], raw["DAYS_BIRTH"])
    if set(EXT_SOURCES) <= have:
        ext = raw[EXT_SOURCES]
        out["EXT_SOURCE_MEAN"] = ext.mean(axis=1)
        out["EXT_SOURCE_MIN"] = ext.min(axis=1)
        out["EXT_SOURCE_MAX"] = ext.max(axis=1)
        out["EXT_SOURCE_STD"] = ext.std(axis=1)
        out["EXT_SOURCE_PROD"] = ext.prod(axis=1, min_count=3)
        out["EXT_SOURCE_MISSING"] = ext.isna().sum(axis=1).astype(float)
    return out


def build_features(applications: pd.DataFrame, schema: InputSchema) -> pd.DataFrame:
    """One row of model features per application, columns in ``feature_names(schema)`` order.

    Fields absent from ``applications`` count as missing; columns outside the schema (id,
    target) are ignored.
    """
    raw = applications.reindex(columns=schema.names)
    columns: dict[str, pd.Series] = {}
    for spec in schema.fields:
        values = raw[spec.name]
        if spec.kind == "categorical":
            codes = pd.Categorical(values, categories=list(spec.categories)).codes
            columns[spec.name] = pd.Series(np.where(codes < 0, np.nan, codes), index=raw.index)
        else:
            columns[spec.name] = pd.to_numeric(values, errors="coerce").astype(float)
    numeric = pd.DataFrame(columns, index=raw.index)
    if "DAYS_EMPLOYED" in numeric:
        # The sentinel is a category ("not employed"), not a duration: flag it, blank it.
        pensioner = numeric["DAYS_EMPLOYED"] == DAYS_EMPLOYED_PENSIONER
        numeric["DAYS_EMPLOYED_ANOMALY"] = pensioner.astype(float)
        numeric["DAYS_EMPLOYED"] = numeric["DAYS_EMPLOYED"].mask(pensioner)
    engineered = pd.DataFrame(_engineered(numeric), index=raw.index)
    features = pd.concat([numeric, engineered], axis=1).astype(float)
    return features.replace([np.inf, -np.inf], np.nan)


def feature_names(schema: InputSchema) -> list[str]:
    """The model's columns for this schema, computed from an empty frame: no second list."""
    return list(build_features(pd.DataFrame(columns=schema.names), schema).columns)


def categorical_features(schema: InputSchema) -> list[str]:
    return [spec.name for spec in schema.categorical]
