"""A batch of validated applications -> the frames the scorer reads and the rows the request
log keeps.

Applicants in one batch come from different requests (adaptive batching), so their history
rows are linked to their application by position, never by ids the clients chose: two
clients may both call their first credit 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, count
from operator import itemgetter

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
    sent = [_as_sent(a) for a in applications]
    # One frame per batch, not per row, and from one object array: a frame per row, or
    # pandas' record parsing, cost more than the model itself.
    columns = [schema.id_column, *schema.names]
    values = np.array([[row.get(c) for c in columns] for row in sent], dtype=object)
    frame = pd.DataFrame(values.reshape(len(sent), len(columns)), columns=columns, dtype=object)
    ids = [getattr(a, schema.id_column) for a in applications]
    tables = get_profile(schema.profile).history_tables(schema.tables) if schema.tables else {}
    histories = _histories(applications, tables)
    if histories:
        frame[schema.id_column] = np.arange(len(frame), dtype=float)
    return Batch(frame, histories, ids, sent, [schema.unseen_warnings(row) for row in sent])


def _as_sent(application: BaseModel) -> dict:
    """The fields sent (a field left out or null is not there), history rows as validated
    (a null a client wrote stays in its row): no copy of the rows, as ``model_dump`` made."""
    return {name: value for name, value in application.__dict__.items() if value is not None}


def _histories(
    applications: list[BaseModel], tables: dict[str, HistoryTable]
) -> dict[str, pd.DataFrame] | None:
    """Each table's rows of the batch: a row linked to its applicant's position, and a parent
    row's key (and its children's reference to it) renumbered per applicant."""
    fresh = count()
    keys: dict[tuple[str, int, int], int] = {}  # (parent table, applicant, key sent) -> batch key

    def renumbered(parent: str, applicant: int, given: int | None) -> int:
        if given is None:
            return next(fresh) + 2**53  # an unlinked parent row: a key of its own, past any id
        return keys.setdefault((parent, applicant, given), next(fresh))

    def linked(parent: str, owners: list[int], given: np.ndarray) -> list[int]:
        return [renumbered(parent, a, k) for a, k in zip(owners, given, strict=True)]

    parents = parent_keys(tables)
    out: dict[str, pd.DataFrame] = {}
    for name, spec in tables.items():
        link, columns = spec.link, list(spec.columns)
        sent = [getattr(a, name, None) or () for a in applications]
        rows = [row for rows in sent for row in rows]
        if not rows:
            continue
        owners = np.repeat(np.arange(len(sent)), [len(rows) for rows in sent]).tolist()
        at_key = columns.index(link.key)
        block = np.empty((len(rows), len(columns)), dtype=object)
        given = [c for c in columns if link.parent is not None or c != link.key]
        block[:, [columns.index(c) for c in given]] = _values(rows, given)
        if link.parent is None:
            block[:, at_key] = owners
        else:
            block[:, at_key] = linked(link.parent, owners, block[:, at_key])
        if name in parents:
            at = columns.index(parents[name])
            block[:, at] = linked(name, owners, block[:, at])
        # One block of Python objects (missing fields None), which the feature code reads
        # in one conversion rather than column by column.
        out[name] = pd.DataFrame(block, columns=columns, dtype=object)  # no type inference
    return out or None


def _values(rows: list[dict], columns: list[str]) -> np.ndarray:
    """The rows' values of ``columns`` (None where a row leaves one out), one row per line:
    a C getter for a row that carries every column (validation refused any other key), and
    ``get`` for a row that leaves some out; flattened into the array in one pass (a list of
    tuples makes NumPy discover the shape row by row: twice as slow)."""
    take = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    width = len(columns)

    def values(row: dict) -> tuple:
        return take(row) if len(row) == width else tuple(row.get(c) for c in columns)

    flat = chain.from_iterable(map(values, rows))
    return np.fromiter(flat, dtype=object, count=len(rows) * width).reshape(len(rows), width)
