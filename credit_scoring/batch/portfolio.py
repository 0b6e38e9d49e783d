"""One group of clients scored as the service answers them: the same feature function (through
``Scorer``), the same probability, decision, points, band, warnings and principal reasons.

This is the part of portfolio scoring that runs in pandas: Spark calls ``score_clients`` once
per bucket of clients (``credit_scoring.batch.spark``), and the benchmark calls it on the whole
portfolio in one process (the in-process path Spark is compared with).
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pandas as pd

from credit_scoring.core.profile import get_profile
from credit_scoring.core.schema import InputSchema
from credit_scoring.core.scorer import Explanation, Scorer
from credit_scoring.core.tables import Histories

# The output's columns after the id, in order (the id column keeps the schema's name).
ANSWER_COLUMNS = (
    "probability",
    "decision",
    "threshold",
    "points",
    "band",
    "reasons",  # JSON: the list of reasons exactly as the service's predict answers it
    "principal_reasons",  # the reasons' statements, for SQL without parsing JSON
    "warnings",  # what was not scored as sent (an unseen category), as the service says it
)


def typed_histories(schema: InputSchema, histories: Histories) -> dict[str, pd.DataFrame]:
    """Each history table with the column types of its spec (categories as ``category``), as
    training reads them; a table absent from ``histories`` has no rows."""
    tables = get_profile(schema.profile).history_tables(schema.tables)
    return {
        name: spec.typed(histories[name]) if name in histories else spec.empty()
        for name, spec in tables.items()
    }


def _refusals_explained(
    scorer: Scorer, features: pd.DataFrame, probability: np.ndarray
) -> tuple[np.ndarray, Explanation]:
    """The contributions of the refused rows only (a granted applicant gets no reasons, and
    TreeSHAP costs ~100x a prediction); their probability is then the explanation's, as the
    service's predict answers it."""
    refused = np.flatnonzero(probability >= scorer.threshold)
    rows = features.iloc[refused]
    contributions, base = scorer.model.contributions(rows.to_numpy())
    explained = scorer.calibration.apply(contributions.sum(axis=1) + base)
    return refused, Explanation(explained, contributions, base, rows)


def _warnings(schema: InputSchema, applications: pd.DataFrame) -> list[list[str]]:
    """The service's warnings per applicant (``InputSchema.unseen_warnings``), computed only
    for the rows that hold a category outside its field's list."""
    unseen = np.zeros(len(applications), dtype=bool)
    for spec in schema.categorical:
        if spec.name in applications:
            values = applications[spec.name]
            unseen |= (values.notna() & ~values.astype(object).isin(spec.categories)).to_numpy()
    out: list[list[str]] = [[] for _ in range(len(applications))]
    names = [s.name for s in schema.categorical if s.name in applications]
    for row in np.flatnonzero(unseen):
        record = applications.iloc[row][names]
        out[row] = schema.unseen_warnings({str(k): v for k, v in record.items() if pd.notna(v)})
    return out


def score_clients(
    scorer: Scorer, applications: pd.DataFrame, histories: Histories | None = None
) -> pd.DataFrame:
    """One answer row per application: id, then ``ANSWER_COLUMNS``."""
    schema = scorer.schema
    features = scorer.features(applications, histories)
    probability = scorer.calibration.apply(scorer.model.raw_score(features.to_numpy()))
    refused, explanation = _refusals_explained(scorer, features, probability)
    probability[refused] = explanation.probability
    reasons: list[list[dict]] = [[] for _ in range(len(applications))]
    for position, row in enumerate(refused):
        reasons[row] = [asdict(r) for r in scorer.reasons(explanation, position)]
    points, bands = scorer.grade(probability)
    return pd.DataFrame(
        {
            schema.id_column: applications[schema.id_column].to_numpy(),
            "probability": probability,
            "decision": scorer.decide(probability),
            "threshold": scorer.threshold,
            "points": points,
            "band": bands,
            "reasons": [json.dumps(r) for r in reasons],
            "principal_reasons": [[r["reason"] for r in rs] for rs in reasons],
            "warnings": _warnings(schema, applications),
        }
    )
