"""The decisions the comparison and performance reports read: the record's scoring rows in a
time window, each with the challenger's shadow result where one was served and, for the
performance report, the applicant's outcome and what it counts as (``core.outcomes``).

Only ``predict`` and ``score`` answer a decision to a new applicant: explanations decide
nothing, and ``predict_client`` rescores clients of the training reference."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bentoml
import pandas as pd

from credit_scoring.core import outcomes as outcome_store
from credit_scoring.core.request_log import read_log
from credit_scoring.core.scorer import Scorer

DECISION_ENDPOINTS = ("predict", "score")
CHAMPION, CHALLENGER = "champion", "challenger"


class ReportError(ValueError):
    """No report possible from this record and window; the message says why."""


@dataclass(frozen=True)
class Window:
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }

    def describe(self) -> str:
        """The window in words, for pages and messages."""
        if self.since is None and self.until is None:
            return "logged at any time"
        since = "the first" if self.since is None else self.since.isoformat(" ", "minutes")
        until = "the last" if self.until is None else self.until.isoformat(" ", "minutes")
        return f"logged from {since} to {until}"


def decisions(log_path: Path, window: Window) -> pd.DataFrame:
    """The record's ``predict``/``score`` rows logged in ``window``, oldest first."""
    logged = read_log(log_path)
    rows = logged[logged["endpoint"].isin(DECISION_ENDPOINTS)]
    if window.since is not None:
        rows = rows[rows["logged_at"] >= window.since]
    if window.until is not None:
        rows = rows[rows["logged_at"] < window.until]
    if rows.empty:
        raise ReportError(
            f"no {'/'.join(DECISION_ENDPOINTS)} decision in the record {log_path} within"
            f" {window.describe()} ({len(logged)} rows in all)"
        )
    return rows.reset_index(drop=True)


def with_outcomes(
    rows: pd.DataFrame, log_path: Path, window_months: int, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Each applicant's first decision in ``rows`` with its recorded outcome (``defaulted``,
    ``observed_on``) and what it counts as (``realised``: bad, good, immature, no outcome)."""
    scored = rows[rows["client_id"].notna()]
    first = scored.drop_duplicates("client_id", keep="first").copy()
    first["applicant_id"] = first["client_id"].map(id_text)
    recorded = outcome_store.read(log_path)[["applicant_id", "defaulted", "observed_on"]]
    joined = first.merge(recorded, on="applicant_id", how="left")
    joined["realised"] = outcome_store.realised(
        joined["logged_at"], joined["defaulted"], joined["observed_on"], window_months, as_of
    )
    return joined


def id_text(value: object) -> str:
    """An id as the outcomes table keys it: the record's integer ids come back as floats
    from a column that also holds rows without an id (7.0 is "7")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def stored_scorer(tag: str) -> Scorer | None:
    """The bundle of a logged model version in the BentoML store, or None when it is gone
    (training figures are then left out, never guessed)."""
    try:
        return Scorer.load(Path(bentoml.models.get(tag).path))
    except bentoml.exceptions.NotFound:
        return None


def served_versions(rows: pd.DataFrame) -> dict[str, str]:
    """The champion's version (the latest one in ``rows``) and the challenger's, if any."""
    versions = {CHAMPION: str(rows["model_version"].iloc[-1])}
    if "challenger_model_version" in rows and rows["challenger_model_version"].notna().any():
        versions[CHALLENGER] = str(rows["challenger_model_version"].dropna().iloc[-1])
    return versions


def write_report(report: dict[str, Any], html: str, folder: Path, name: str) -> list[Path]:
    """``name``.json (the report) and ``name``.html (its page) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.json", folder / f"{name}.html"]
    paths[0].write_text(json.dumps(report, indent=1), "utf-8")
    paths[1].write_text(html, "utf-8")
    return paths
