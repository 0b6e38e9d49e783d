"""The request log: every scored applicant and its answer, appended to a SQLite file.

One transaction per batch, write-ahead journal: a crash loses at most the batch being written,
never corrupts earlier rows, and readers (the drift report) never block the service. Several
service workers can append to the same file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scored (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    logged_at REAL NOT NULL,            -- unix time, seconds
    endpoint TEXT NOT NULL,
    model_version TEXT NOT NULL,
    client_id,                          -- as sent: an integer or a string id ("007" stays "007")
    probability REAL NOT NULL,
    decision TEXT NOT NULL,
    threshold REAL NOT NULL,
    application TEXT NOT NULL           -- the raw fields sent, as JSON (missing ones omitted)
);
CREATE INDEX IF NOT EXISTS scored_logged_at ON scored (logged_at);
"""


@dataclass(frozen=True)
class LoggedScore:
    endpoint: str
    model_version: str
    client_id: int | str | None
    probability: float
    decision: str
    threshold: float
    application: dict


class RequestLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: safe against app crashes
        self._db.executescript(_SCHEMA)

    def append(self, scores: Iterable[LoggedScore]) -> int:
        now = time.time()
        rows = [
            (
                now,
                s.endpoint,
                s.model_version,
                s.client_id,
                s.probability,
                s.decision,
                s.threshold,
                json.dumps({k: v for k, v in s.application.items() if v is not None}),
            )
            for s in scores
        ]
        with self._db:  # one transaction: all rows of the batch or none
            self._db.executemany(
                "INSERT INTO scored (logged_at, endpoint, model_version, client_id, probability,"
                " decision, threshold, application) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def close(self) -> None:
        self._db.close()


def read_log(path: Path, since: float | None = None) -> pd.DataFrame:
    """All logged rows (optionally since a unix time): the answer columns plus one column per
    raw application field."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no request log at {path}: nothing has been scored yet")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        query = "SELECT * FROM scored" + (" WHERE logged_at >= ?" if since else "") + " ORDER BY id"
        log = pd.read_sql_query(query, db, params=(since,) if since else None)
    fields = pd.json_normalize([json.loads(a) for a in log.pop("application")])
    log["logged_at"] = pd.to_datetime(log["logged_at"], unit="s", utc=True)
    return pd.concat([log, fields.set_index(log.index)], axis=1)
