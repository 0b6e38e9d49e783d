"""Human oversight: credit officers' final decisions where they differ from the model's.

An override is appended to its own SQLite file beside the request log, never to the request
log itself, so the model's logged answer stays what the model said. Each override names the
model answer it overrides (the applicant's latest logged answer: the decision and the model
version), so the override rate per model decision can be counted from the two files, and per
group of any logged application field (``by``: e.g. a protected attribute requests carry for
monitoring).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from credit_scoring.core.request_log import TABLE, read_log

_SCHEMA = """
CREATE TABLE IF NOT EXISTS overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at REAL NOT NULL,          -- unix time, seconds
    client_id NOT NULL,                 -- as the request log holds it (integer or string)
    model_decision TEXT NOT NULL,       -- the model's latest logged answer, unchanged
    model_version TEXT NOT NULL,
    decision TEXT NOT NULL,             -- the officer's final decision
    reason TEXT NOT NULL,
    officer TEXT NOT NULL
);
"""


class OverrideRefused(ValueError):
    """An override that cannot be recorded: it repeats the model's own decision."""


class NoModelAnswer(OverrideRefused):
    """An override of an applicant the service never scored: nothing to override."""


@dataclass(frozen=True)
class ModelAnswer:
    decision: str
    model_version: str


@dataclass(frozen=True)
class OverrideRecord:
    override_id: int
    client_id: int | str
    model_decision: str
    model_version: str
    decision: str
    reason: str
    officer: str
    recorded_at: float


def model_answer(request_log: Path, client_id: int | str) -> ModelAnswer | None:
    """The applicant's latest model answer in the decision record (``core.request_log``), or
    None when the service never scored that id (or its inputs were erased)."""
    if not Path(request_log).is_file():
        return None
    with closing(sqlite3.connect(f"file:{request_log}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT json_extract(content, '$.answer.decision'), "
            f"json_extract(content, '$.model_version') FROM {TABLE} "
            "WHERE json_extract(applicant, '$.id') = ? ORDER BY seq DESC LIMIT 1",
            (client_id,),
        ).fetchone()
    return None if row is None or row[0] is None else ModelAnswer(*row)


class OverrideLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def record(
        self,
        client_id: int | str,
        decision: str,
        reason: str,
        officer: str,
        answer: ModelAnswer | None,
    ) -> OverrideRecord:
        """Append an override of ``answer`` (the model's); refuse one with nothing to
        override."""
        if answer is None:
            raise NoModelAnswer(
                f"applicant {client_id!r} has no logged model answer: score the application "
                "before recording an override"
            )
        if answer.decision == decision:
            raise OverrideRefused(
                f"the model's answer for applicant {client_id!r} is already {decision!r}: "
                "an override records a different final decision"
            )
        now = time.time()
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO overrides (recorded_at, client_id, model_decision, model_version,"
                " decision, reason, officer) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, client_id, answer.decision, answer.model_version, decision, reason, officer),
            )
        override_id = cursor.lastrowid
        assert override_id is not None  # an INSERT always sets it
        return OverrideRecord(
            override_id,
            client_id,
            answer.decision,
            answer.model_version,
            decision,
            reason,
            officer,
            now,
        )

    def close(self) -> None:
        self._db.close()


def read_overrides(path: Path) -> pd.DataFrame:
    """Every recorded override, oldest first."""
    columns = ["id", "recorded_at", "client_id", "model_decision", "model_version", "decision"]
    if not Path(path).is_file():
        return pd.DataFrame(columns=columns)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return pd.read_sql_query(f"SELECT {', '.join(columns)} FROM overrides ORDER BY id", db)


def latest_answers(request_log: Path) -> pd.DataFrame:
    """Each scored applicant's latest model answer (client_id, decision, model_version) with
    the application fields logged with it, one column per field."""
    log = read_log(request_log)
    log = log[log["client_id"].notna()].drop_duplicates("client_id", keep="last")
    return log.reset_index(drop=True)


def override_rates(
    answers: pd.DataFrame, overrides: pd.DataFrame, by: Sequence[str] = ()
) -> pd.DataFrame:
    """Per model decision (and per group of each ``by`` field of the logged applications):
    applicants scored, applicants whose decision an officer overrode, and the rate."""
    unknown = [field for field in by if field not in answers]
    if unknown:
        raise ValueError(f"no logged application field {unknown}: the groups must be logged")
    overridden = set(overrides["client_id"])
    frame = answers.assign(
        model_decision=answers["decision"], overridden=answers["client_id"].isin(overridden)
    )
    keys = ["model_decision", *by]
    rates = frame.groupby(keys, dropna=False)["overridden"].agg(applicants="size", overridden="sum")
    rates["override_rate"] = rates["overridden"] / rates["applicants"]
    return rates.reset_index()
