"""A batch of validated applications -> the frames the scorer reads and the rows the request
log keeps.

Applicants in one batch come from different requests (adaptive batching), so their history
rows are linked to their application by position, never by ids the clients chose: two
clients may both call their first credit 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

import numpy as np
import pandas as pd
from pydantic import BaseModel

from credit_scoring.core.profile import get_profile
from credit_scoring.core.schema import InputSchema
from credit_scoring.core.tables import Histories, HistoryTable, parent_keys


@dataclass(frozen=True)
class Batch:
    applications: pd.DataFrame  # raw fields, for the scorer (ids are batch positions)
    histories: Histories | None  # history rows of the batch, linked by position
    ids: Sequence[int | str | None]  # the ids as sent, echoed back
    logged: list[dict]  # per applicant: everything sent, for the request log
    warnings: list[list[str]]  # per applicant: what was not scored as sent (unseen categories)

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
    tables = get_profile(schema.profile).history_tables(schema.tables) if schema.tables else {}
    histories = _histories(sent, tables)
    if histories:
        frame[schema.id_column] = np.arange(len(frame), dtype=float)
    return Batch(frame, histories, ids, sent, [schema.unseen_warnings(row) for row in sent])


def _histories(sent: list[dict], tables: dict[str, HistoryTable]) -> dict[str, pd.DataFrame] | None:
    """Each table's rows of the batch: a row linked to its applicant's position, and a parent
    row's key (and its children's reference to it) renumbered per applicant."""
    fresh = count()
    keys: dict[tuple[str, int, int], int] = {}  # (parent table, applicant, key sent) -> batch key

    def renumbered(parent: str, applicant: int, given: int | None) -> int:
        if given is None:
            return next(fresh) + 2**53  # an unlinked parent row: a key of its own, past any id
        return keys.setdefault((parent, applicant, given), next(fresh))

    parents = parent_keys(tables)
    out: dict[str, pd.DataFrame] = {}
    for name, spec in tables.items():
        link, columns = spec.link, list(spec.columns)
        at_key = columns.index(link.key)
        at_parent = columns.index(parents[name]) if name in parents else None
        rows = []
        for applicant, application in enumerate(sent):
            for row in application.get(name, ()):
                values = [row.get(c) for c in columns]
                if link.parent is None:
                    values[at_key] = applicant
                else:
                    values[at_key] = renumbered(link.parent, applicant, values[at_key])
                if at_parent is not None:
                    values[at_parent] = renumbered(name, applicant, values[at_parent])
                rows.append(values)
        if rows:
            # One block of Python objects (missing fields None), which the feature code
            # reads in one conversion rather than column by column.
            block = np.array(rows, dtype=object).reshape(len(rows), len(columns))
            out[name] = pd.DataFrame(block, columns=columns)
    return out or None
