"""Home Credit tables as a client sends them to the service: one JSON object per application,
carrying its rows of the six history tables (bureau_balance rows by the bureau credit they
belong to), as a front office sends a new applicant's bureau report. The load test, the
generated-traffic loop and the serving benchmark build their requests here."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from credit_scoring.core.schema import MAX_HISTORY_ROWS
from credit_scoring.profiles.home_credit.tables import BUREAU, BUREAU_BALANCE, BUREAU_ID, ID_COLUMN


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
