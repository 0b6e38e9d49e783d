"""One bucket of checked rows (every table of a group of clients, as Spark hands them to one
``applyInPandas`` call) split into what is scored and what is rejected, then answered.

The checks ran in Spark (``batch.checks``): each row carries ``CLIENT`` and ``REASON``. What is
decided here, per client and within its bucket (all of a client's rows are in one bucket), is
the one rule that needs all of a client's tables at once: a client with a rejected history row
is not scored from the rest ("all or nothing", as the service answers a request whole or
refuses it). Doing it here, instead of in a second Spark pass, reads each input once.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from credit_scoring.batch.checks import CLIENT, REASON
from credit_scoring.batch.portfolio import ANSWER_COLUMNS, score_clients, typed_histories
from credit_scoring.core.scorer import Scorer

APPLICATION = "application"  # the application table's tag in the union and the rejects
REJECT_COLUMNS = ("table", "client_id", "reason", "row")


def _row_json(rows: pa.Table) -> list[str]:
    """Each row as a JSON object of its present values (nulls and NaN left out), to correct
    and resubmit; Arrow's values keep integers integers."""
    return [
        json.dumps({k: v for k, v in row.items() if v is not None and v == v})
        for row in rows.to_pylist()
    ]


def _rejects(table: str, rows: pa.Table, reasons: list[str] | None = None) -> pd.DataFrame:
    """Rejects-file rows: the table, the applicant (text, or null), the reasons (``reasons``,
    else the rows' own), the row."""
    return pd.DataFrame(
        {
            "table": table,
            "client_id": pc.cast(rows[CLIENT], pa.string()).to_pylist(),
            "reason": rows[REASON].to_pylist() if reasons is None else reasons,
            "row": _row_json(rows.drop_columns([CLIENT, REASON])),
        },
        columns=list(REJECT_COLUMNS),
    )


def _invalid(rows: pa.Table) -> pa.ChunkedArray:
    return pc.is_valid(rows[REASON])


def incomplete(histories: dict[str, pa.Table]) -> dict[object, str]:
    """The clients with a rejected history row -> why their application is not scored."""
    tables_of: defaultdict[object, set[str]] = defaultdict(set)
    for name, rows in histories.items():
        for client in rows.filter(_invalid(rows))[CLIENT].to_pylist():
            if client is not None:
                tables_of[client].add(name)
    return {c: "not scored: rejected rows in " + ", ".join(sorted(t)) for c, t in tables_of.items()}


def split(
    applications: pa.Table | None, histories: dict[str, pa.Table]
) -> tuple[pa.Table | None, dict[str, pa.Table], pd.DataFrame]:
    """(the applications to score, their valid history rows, every rejected row): an
    application is scored when it and all its history rows passed the checks. A bucket may
    hold no application at all (only history rows without one)."""
    rejects = [_rejects(name, rows.filter(_invalid(rows))) for name, rows in histories.items()]
    if applications is None:
        return None, {}, pd.concat(rejects, ignore_index=True)
    why_not = incomplete(histories)
    own = applications[REASON].to_pylist()
    clients = applications[CLIENT].to_pylist()
    reasons = [r or why_not.get(c, "") for r, c in zip(own, clients, strict=True)]
    refused = pa.array([bool(r) for r in reasons], pa.bool_())
    refusals = [r for r in reasons if r]
    rejects.insert(0, _rejects(APPLICATION, applications.filter(refused), refusals))
    scored = applications.filter(pc.invert(refused))
    valid = {
        name: rows.filter(
            pc.and_(pc.invert(_invalid(rows)), pc.is_in(rows[CLIENT], value_set=scored[CLIENT]))
        ).drop_columns([CLIENT, REASON])
        for name, rows in histories.items()
    }
    return scored.drop_columns([CLIENT, REASON]), valid, pd.concat(rejects, ignore_index=True)


def answers(scorer: Scorer, tables: dict[str, pa.Table]) -> pd.DataFrame:
    """A bucket's answers (id, ``ANSWER_COLUMNS``; the reject columns null) followed by its
    rejects (``REJECT_COLUMNS``; the answer columns null), one frame: ``applyInPandas``
    returns one schema."""
    applications = tables.pop(APPLICATION, None)
    scored, histories, rejects = split(applications, tables)
    schema = scorer.schema
    frames = [rejects]
    if scored is not None and scored.num_rows:
        typed = None
        if schema.tables:
            typed = typed_histories(schema, {n: t.to_pandas() for n, t in histories.items()})
        frames.insert(0, score_clients(scorer, scored.to_pandas(), typed))
    out = pd.concat(frames, ignore_index=True)
    out = out.reindex(columns=[schema.id_column, *ANSWER_COLUMNS, *REJECT_COLUMNS])
    if schema.id_integer:  # nullable: the rejects' rows have no id (a float would round it)
        out[schema.id_column] = out[schema.id_column].astype("Int64")
    # Text and list columns as objects with None: a column all missing in this bucket would
    # otherwise be float NaN, which Spark's Arrow conversion cannot turn into text.
    for column in _OBJECT_COLUMNS:
        values = out[column]
        out[column] = [
            v if present else None for v, present in zip(values, values.notna(), strict=True)
        ]
    return out


_OBJECT_COLUMNS = ("decision", "band", "reasons", "principal_reasons", "warnings", *REJECT_COLUMNS)
