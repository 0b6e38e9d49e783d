"""Home Credit tables as a client sends them to the service: one JSON object per application,
carrying its rows of the six history tables (bureau_balance rows by the bureau credit they
belong to), as a front office sends a new applicant's bureau report. The load test, the
generated-traffic loop and the serving benchmark build their requests here."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from credit_scoring.core.schema import MAX_HISTORY_ROWS

if TYPE_CHECKING:
    from credit_scoring.core.scorer import Scorer

from credit_scoring.profiles.home_credit.tables import (
    BUREAU,
    BUREAU_BALANCE,
    BUREAU_ID,
    HISTORY_TABLES,
    ID_COLUMN,
)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a client sends them: JSON, missing values left out."""
    rows = json.loads(frame.to_json(orient="records"))
    return [
        {k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))} for r in rows
    ]


def _grouped(histories: Mapping[str, pd.DataFrame]) -> dict[str, dict[Any, list[dict[str, Any]]]]:
    """Each table's rows as JSON once, by client (bureau_balance by bureau credit)."""
    groups: dict[str, dict[Any, list[dict[str, Any]]]] = {}
    for name, rows in histories.items():
        key = rows[BUREAU_ID if name == BUREAU_BALANCE else ID_COLUMN].tolist()
        groups[name] = {}
        for k, row in zip(
            key, records(rows.drop(columns=[ID_COLUMN], errors="ignore")), strict=True
        ):
            groups[name].setdefault(k, []).append(row)
    return groups


def with_histories(
    histories: Mapping[str, pd.DataFrame], applications: pd.DataFrame
) -> list[dict[str, Any]]:
    """Each application with its history rows (at most ``MAX_HISTORY_ROWS`` per table)."""
    groups = _grouped(histories)
    out = []
    for client, application in zip(
        applications[ID_COLUMN].tolist(), records(applications), strict=True
    ):
        for name, by_key in groups.items():
            if name == BUREAU_BALANCE:
                credits = [c[BUREAU_ID] for c in application.get(BUREAU, ())]
                linked = [r for c in credits for r in by_key.get(c, ())]
            else:
                linked = by_key.get(client, [])
            if linked:
                application[name] = linked[:MAX_HISTORY_ROWS]
        out.append(application)
    return out


def reference_clients(scorer: Scorer) -> list[dict[str, Any]] | None:
    """The model's reference sample as requests, each client with its history rows (None: a
    model without history tables or without a reference sample)."""
    schema, histories = scorer.schema, scorer.reference_histories
    if not schema.tables or not histories or scorer.reference is None:
        return None
    return with_histories(histories, scorer.reference.drop(columns=[schema.target_column]))


def history_counts(requests: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows of each history table in each request (applicants x tables)."""
    return pd.DataFrame(
        [[len(r.get(t, ())) for t in HISTORY_TABLES] for r in requests], columns=HISTORY_TABLES
    )


def nearest(counts: pd.DataFrame, target: pd.Series, n: int) -> list[int]:
    """The ``n`` requests whose row counts are nearest ``target`` in every table at once
    (summed distance of log counts: one table far off is not made up by the others)."""
    distance = (np.log1p(counts) - np.log1p(target)).abs().sum(axis=1)
    return distance.nsmallest(n).index.tolist()


def clients_at(requests: list[dict[str, Any]], quantile: float, n: int) -> list[dict[str, Any]]:
    """The ``n`` requests nearest the ``quantile`` row count of every history table: 0.5 a
    typical client, 0.95 a heavy one."""
    counts = history_counts(requests)
    return [requests[i] for i in nearest(counts, counts.quantile(quantile), n)]
