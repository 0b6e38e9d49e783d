"""Observed outcomes of logged decisions: did the applicant default, and when was it seen.

Outcomes arrive months after the decision (a default is known when it happens, a repaid loan
once its performance window has passed), from the lender's loan system, not from the
applicant. They are kept in a table ``outcomes`` of the decision record's own SQLite file
(``core.request_log``): owner-only like the record, write-ahead journal, one transaction per
batch, so a crash loses at most the batch being written and never half of it.

- Keyed by the applicant's id as text (as ``erase`` matches it: 7 and "7" alike). An id the
  record never scored (or whose inputs were erased) is *unknown*: reported back by id and not
  stored, never silently dropped.
- Idempotent: the same outcome twice changes nothing. A *different* outcome for an applicant
  already recorded is refused, and the whole batch with it, naming the applicant and both
  outcomes: an outcome is recorded once it is final (a default when it happens, "no default"
  once the window has passed), and a correction is a deliberate act (``erase_outcome``, then
  record again), not a side effect of a re-sent file.
- Validated: a value that is not yes/no, a date that is not a date, a date before the
  applicant's first decision or after today refuses the batch, naming the row.

``realised`` turns outcomes into what the performance reports count: a default observed
within the performance window of the decision is *bad*; an applicant whose window has passed
is *good* unless bad; one whose window is still open and who has not defaulted yet is
*immature*, never counted as good.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from credit_scoring.core.request_log import TABLE, RecordError, write_transaction

OUTCOMES = "outcomes"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {OUTCOMES} (
    applicant_id TEXT PRIMARY KEY,  -- the applicant's id as text, as the record's id reads
    defaulted INTEGER NOT NULL CHECK (defaulted IN (0, 1)),
    observed_on TEXT NOT NULL,      -- ISO date the outcome was observed
    recorded_at REAL NOT NULL       -- unix time, seconds
);
"""
COLUMNS = ("applicant_id", "defaulted", "observed_on")
YES, NO = ("1", "yes", "y", "true"), ("0", "no", "n", "false")
SHOWN = 5  # ids named in a message, at most
BAD, GOOD, IMMATURE, NO_OUTCOME = "bad", "good", "immature", "no outcome"


class OutcomeError(RecordError):
    """A batch of outcomes that cannot be recorded as sent; the message names the row."""


class OutcomeConflict(OutcomeError):
    """A different outcome for an applicant whose outcome is already recorded."""


@dataclass(frozen=True)
class Outcome:
    applicant_id: str
    defaulted: bool
    observed_on: date


@dataclass(frozen=True)
class Receipt:
    """What a batch did: newly recorded, already recorded identically, ids never scored."""

    recorded: int
    unchanged: int
    unknown_ids: list[str] = field(default_factory=list)


def _defaulted(value: Any, row: int) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES or text in NO:
        return text in YES
    raise OutcomeError(f"row {row}: defaulted must be yes/no (1/0, true/false), got {value!r}")


def _observed_on(value: Any, row: int) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise OutcomeError(
            f"row {row}: observed_on must be a date YYYY-MM-DD, got {value!r}"
        ) from None


def parse(rows: Iterable[Mapping[str, Any]]) -> list[Outcome]:
    """Outcomes from rows of ``applicant_id``, ``defaulted``, ``observed_on`` (rows counted
    from 1); the first bad value refuses them all, naming its row."""
    outcomes = []
    for row, values in enumerate(rows, 1):
        missing = [c for c in COLUMNS if values.get(c) is None or str(values[c]).strip() == ""]
        if missing:
            raise OutcomeError(f"row {row}: no value for {', '.join(missing)}")
        outcomes.append(
            Outcome(
                str(values["applicant_id"]).strip(),
                _defaulted(values["defaulted"], row),
                _observed_on(values["observed_on"], row),
            )
        )
    return outcomes


def read_csv(path: Path) -> list[Outcome]:
    """Outcomes from a CSV file with the columns ``applicant_id,defaulted,observed_on``
    (rows counted from 1 after the header)."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:
        raise OutcomeError(f"{path}: cannot read outcomes ({error})") from None
    absent = [c for c in COLUMNS if c not in table.columns]
    if absent:
        raise OutcomeError(
            f"{path}: no column {', '.join(absent)} (expected {', '.join(COLUMNS)};"
            f" found {', '.join(table.columns)})"
        )
    try:
        return parse(table.to_dict(orient="records"))  # type: ignore[arg-type]  # str keys
    except OutcomeError as error:
        raise OutcomeError(f"{path}: {error}") from None


@contextmanager
def _opened(path: Path) -> Iterator[sqlite3.Connection]:
    """The record's file, which must exist (outcomes follow decisions), in a write
    transaction taken before anything is read."""
    if not Path(path).is_file():
        raise RecordError(f"no decision record at {path}: nothing has been scored yet")
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        with write_transaction(db):
            yield db


def _first_decisions(db: sqlite3.Connection, ids: list[str]) -> dict[str, date]:
    """The (UTC) date of each id's first logged decision, for the ids the record holds."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM wanted")
    db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(i,) for i in ids])
    rows = db.execute(
        f"SELECT CAST(json_extract(d.applicant, '$.id') AS TEXT) AS id, MIN(d.logged_at)"
        f" FROM {TABLE} d JOIN wanted w ON w.id = CAST(json_extract(d.applicant, '$.id') AS TEXT)"
        " WHERE d.applicant IS NOT NULL GROUP BY id"
    )
    return {i: datetime.fromtimestamp(at, UTC).date() for i, at in rows}


def _recorded(db: sqlite3.Connection) -> dict[str, Outcome]:
    rows = db.execute(
        f"SELECT o.applicant_id, o.defaulted, o.observed_on FROM {OUTCOMES} o"
        " JOIN wanted w ON w.id = o.applicant_id"
    )
    return {i: Outcome(i, bool(d), date.fromisoformat(on)) for i, d, on in rows}


def _describe(outcome: Outcome) -> str:
    return f"{'defaulted' if outcome.defaulted else 'no default'} on {outcome.observed_on}"


def _conflicts(sent: list[Outcome], recorded: dict[str, Outcome]) -> None:
    """Refuse an applicant sent twice with different outcomes, or differing from the stored."""
    seen = dict(recorded)
    clashes = []
    for outcome in sent:
        before = seen.setdefault(outcome.applicant_id, outcome)
        if before != outcome:
            clashes.append(
                f"{outcome.applicant_id!r} ({_describe(before)}, sent {_describe(outcome)})"
            )
    if clashes:
        raise OutcomeConflict(
            f"{len(clashes)} applicants already have a different outcome: "
            + "; ".join(clashes[:SHOWN])
            + ("; ..." if len(clashes) > SHOWN else "")
            + ". An outcome is recorded once, when final: erase it first to correct it"
        )


def _dates(outcomes: list[Outcome], decided: dict[str, date], today: date) -> None:
    for row, outcome in enumerate(outcomes, 1):
        first = decided.get(outcome.applicant_id)
        if outcome.observed_on > today:
            raise OutcomeError(
                f"row {row}: applicant {outcome.applicant_id!r} observed_on"
                f" {outcome.observed_on} is in the future (today is {today})"
            )
        if first is not None and outcome.observed_on < first:
            raise OutcomeError(
                f"row {row}: applicant {outcome.applicant_id!r} observed_on"
                f" {outcome.observed_on} is before the decision ({first})"
            )


def record(path: Path, outcomes: list[Outcome], today: date | None = None) -> Receipt:
    """Store ``outcomes`` in the record at ``path`` in one transaction: all of them (less the
    unknown ids, reported back) or, on a bad date or a conflict, none."""
    today = today or datetime.now(UTC).date()
    ids = list(dict.fromkeys(o.applicant_id for o in outcomes))
    with _opened(path) as db:
        decided = _first_decisions(db, ids)
        _dates(outcomes, decided, today)
        known = [o for o in outcomes if o.applicant_id in decided]
        recorded = _recorded(db)
        _conflicts(known, recorded)
        new = list({o.applicant_id: o for o in known if o.applicant_id not in recorded}.values())
        now = time.time()
        db.executemany(
            f"INSERT INTO {OUTCOMES} (applicant_id, defaulted, observed_on, recorded_at)"
            " VALUES (?, ?, ?, ?)",
            [(o.applicant_id, int(o.defaulted), o.observed_on.isoformat(), now) for o in new],
        )
    unknown = [i for i in ids if i not in decided]
    return Receipt(len(new), len({o.applicant_id for o in known}) - len(new), unknown)


def read(path: Path) -> pd.DataFrame:
    """Every recorded outcome: applicant_id (text), defaulted (bool), observed_on (date),
    recorded_at; empty when none was recorded."""
    columns = [*COLUMNS, "recorded_at"]
    if not Path(path).is_file():
        return pd.DataFrame(columns=columns)
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (OUTCOMES,)
        ).fetchone()
        if not exists:
            return pd.DataFrame(columns=columns)
        table = pd.read_sql_query(f"SELECT {', '.join(columns)} FROM {OUTCOMES}", db)
    table["defaulted"] = table["defaulted"].astype(bool)
    table["observed_on"] = pd.to_datetime(table["observed_on"]).dt.date
    return table


def erase_outcome(path: Path, applicant_id: str) -> int:
    """Remove an applicant's outcome (a correction, or erasure with the record's rows); how
    many were removed (0 or 1)."""
    with _opened(path) as db:
        return db.execute(
            f"DELETE FROM {OUTCOMES} WHERE applicant_id = ?", (str(applicant_id),)
        ).rowcount


def realised(
    decided_at: pd.Series,
    defaulted: pd.Series,
    observed_on: pd.Series,
    window_months: int,
    as_of: pd.Timestamp,
) -> pd.Series:
    """Per applicant (aligned series; ``defaulted`` NaN where no outcome was recorded):
    ``bad`` (a default observed within ``window_months`` of the decision), ``good`` (the
    window has passed by ``as_of`` and no default within it), ``immature`` (the window is
    still open and no default yet: not good), ``no outcome`` (the window has passed and
    nothing was recorded)."""
    window_end = pd.to_datetime(decided_at, utc=True) + pd.DateOffset(months=window_months)
    observed = pd.to_datetime(observed_on, utc=True)
    has_outcome = defaulted.notna()
    bad = (
        has_outcome
        & defaulted.astype("boolean").fillna(False).astype(bool)
        & (observed <= window_end)
    )
    mature = window_end <= as_of
    labels = pd.Series(IMMATURE, index=decided_at.index, dtype=object)
    labels[mature & has_outcome] = GOOD
    labels[mature & ~has_outcome] = NO_OUTCOME
    labels[bad] = BAD
    return labels
