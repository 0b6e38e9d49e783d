"""A batch of validated applications -> the frames the scorer reads and the rows the request
log keeps.

Applicants in one batch come from different requests (adaptive batching), so their history
rows are linked to their application by position, never by ids the clients chose: two
clients may both call their first bureau credit 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import numpy as np
import pandas as pd
from pydantic import BaseModel

from credit_scoring.core.schema import InputSchema
from credit_scoring.profiles.home_credit.features import Histories
from credit_scoring.profiles.home_credit.tables import BUREAU, BUREAU_BALANCE, BUREAU_ID, ID_COLUMN


@dataclass(frozen=True)
class Batch:
    applications: pd.DataFrame  # raw fields, for the scorer (ids are batch positions)
    histories: Histories | None  # history rows of the batch, linked by position
    ids: list[int | None]  # the ids as sent, echoed back
    logged: list[dict]  # per applicant: everything sent, for the request log

    def __len__(self) -> int:
        return len(self.ids)


def to_batch(applications: list[BaseModel], schema: InputSchema) -> Batch:
    sent = [a.model_dump(exclude_none=True) for a in applications]
    # One frame per batch, not per row, and from one object array: a frame per row, or
    # pandas' record parsing, cost more than the model itself.
    columns = [schema.id_column, *schema.names]
    values = np.array([[row.get(c) for c in columns] for row in sent], dtype=object)
    frame = pd.DataFrame(values.reshape(len(sent), len(columns)), columns=columns)
    ids = [getattr(a, schema.id_column) for a in applications]
    histories = _histories(sent, schema.tables)
    if histories:
        frame[ID_COLUMN] = np.arange(len(frame), dtype=float)
    return Batch(frame, histories, ids, sent)


def _histories(sent: list[dict], tables: tuple[str, ...]) -> dict[str, pd.DataFrame] | None:
    fresh = count()
    credits: dict[tuple[int, int], int] = {}  # (applicant, its credit id) -> batch credit id

    def credit(applicant: int, given: int | None) -> int:
        if given is None:
            return next(fresh) + 2**53  # unlinked credit: a key of its own, past any JSON id
        return credits.setdefault((applicant, given), next(fresh))

    out: dict[str, pd.DataFrame] = {}
    for table in tables:
        rows = []
        for applicant, application in enumerate(sent):
            for row in application.get(table, ()):
                row = {**row, ID_COLUMN: applicant}
                if table in (BUREAU, BUREAU_BALANCE):
                    row[BUREAU_ID] = credit(applicant, row.get(BUREAU_ID))
                rows.append(row)
        if rows:
            out[table] = pd.DataFrame.from_records(rows)
    return out or None
