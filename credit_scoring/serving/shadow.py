"""Shadow scoring: a challenger model scores the champion's batch, and never answers.

Every sampled applicant of a batch is scored by the challenger on the same frames as the
champion; its probability, decision, points and band go to the decision record beside the
champion's answer (``LoggedDecision.challenger``), for the comparison and the realised
performance of both. Whatever goes wrong with the challenger (a bundle that fails its digests
or does not load, an exception while scoring) is recorded as ``{"error": <class name>}`` on
each row it concerned, logged as one line per batch and counted; the answer never waits for a
retry nor changes.

Sampling is by applicant id (``sampled``): a share below 1 bounds the cost, and the same
applicant is always in or always out, so repeated requests compare like with like.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bentoml
import pandas as pd

from credit_scoring.core.schema import InputSchema
from credit_scoring.core.scorer import Scorer, verify_digests
from credit_scoring.serving.batch import Batch

log = logging.getLogger("bentoml.credit_scoring")  # the service's logger, shown by BentoML

SHADOW_ROWS = bentoml.metrics.Counter(
    name="credit_challenger_rows_total",
    documentation="Applicants scored in shadow by the challenger, by outcome (scored, failed)",
    labelnames=["endpoint", "outcome"],
)
# A part of the batch, by positions: each endpoint knows how to rebuild one from what it got.
Subset = Callable[[list[int]], Batch]


def sampled(applicant_id: object, share: float) -> bool:
    """Whether this applicant is scored in shadow: a fixed draw from its id (as sent), so an
    applicant is always in or always out for a given share."""
    if share >= 1:
        return True
    digest = hashlib.sha256(str(applicant_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


@dataclass(frozen=True)
class Check:
    """The challenger's bundle as checked at start: its digest, or why it cannot be served."""

    tag: str
    bundle_digest: str | None
    error: str | None  # exception class name; None when the bundle checks

    @classmethod
    def of(cls, tag: str) -> Check:
        """Find the stored bundle and verify its digests (as the champion's): a changed file
        makes a challenger that records an error on every sampled row, never a failed start."""
        try:
            digest = verify_digests(Path(bentoml.models.get(tag).path))
        except Exception as error:  # a broken challenger must not stop the champion
            _event("challenger_unusable", model=tag, error=type(error).__name__, why=str(error))
            return cls(tag, None, type(error).__name__)
        return cls(tag, digest, None)


class Challenger:
    """The challenger a worker serves in shadow (``scorer`` None when its bundle is broken)."""

    def __init__(self, check: Check, share: float, champion_schema: InputSchema) -> None:
        self.tag, self.share = check.tag, share
        self.bundle_digest, self.error = check.bundle_digest, check.error
        self.scorer: Scorer | None = None
        if self.error is None:
            try:
                self.scorer = Scorer.load(Path(bentoml.models.get(self.tag).path))
            except Exception as error:  # e.g. a family this version cannot load
                _event("challenger_unusable", model=self.tag, error=type(error).__name__)
                self.error = type(error).__name__
        # Same schema, same feature function: the champion's features serve both models.
        self.shares_features = self.scorer is not None and self.scorer.schema == champion_schema

    def info(self) -> dict[str, Any]:
        """What ``/metadata`` says of the challenger."""
        scorer = self.scorer
        return {
            "model_tag": self.tag,
            "family": None if scorer is None else scorer.model.family,
            "threshold": None if scorer is None else scorer.threshold,
            "mlflow_run_id": None if scorer is None else scorer.metadata.get("mlflow_run_id"),
            "bundle_digest": self.bundle_digest,
            "shadow_share": self.share,
            "error": self.error,
        }

    def shadow(
        self, batch: Batch, built: pd.DataFrame, subset: Subset, endpoint: str
    ) -> list[dict | None]:
        """The challenger's result per applicant of the batch (None: not sampled); ``built``
        is the champion's ``build_features`` frame of the batch."""
        keep = [i for i, applicant in enumerate(batch.ids) if sampled(applicant, self.share)]
        results: list[dict | None] = [None] * len(batch)
        if not keep:
            return results
        try:
            rows = self._score(keep, batch, built, subset)
            outcome = "scored"
        except Exception as error:  # the answer is the champion's, whatever happens here
            failure = self.error or type(error).__name__  # a broken bundle: why it is
            rows = [{"model_version": self.tag, "error": failure}] * len(keep)
            outcome = "failed"
            _event("challenger_failed", model=self.tag, endpoint=endpoint, rows=len(keep),
                   error=failure)  # fmt: skip
        SHADOW_ROWS.labels(endpoint=endpoint, outcome=outcome).inc(len(keep))
        for i, row in zip(keep, rows, strict=True):
            results[i] = row
        return results

    def _score(
        self, keep: list[int], batch: Batch, built: pd.DataFrame, subset: Subset
    ) -> list[dict]:
        if self.scorer is None:
            raise ChallengerUnusable(self.error)
        if self.shares_features:
            probability = self.scorer.probability_of(self.scorer.inputs(built.iloc[keep]))
        else:  # another schema: its own features, from the sampled applications
            part = batch if len(keep) == len(batch) else subset(keep)
            probability = self.scorer.predict_proba(part.applications, part.histories)
        decisions = self.scorer.decide(probability)
        points, bands = self.scorer.grade(probability)
        return [
            {
                "model_version": self.tag,
                "bundle_digest": self.bundle_digest,
                "answer": {
                    "probability": float(probability[i]),
                    "decision": decisions[i],
                    "points": float(points[i]),
                    "band": bands[i],
                },
            }
            for i in range(len(keep))
        ]


class ChallengerUnusable(RuntimeError):
    """The challenger's bundle failed its check or its load at start."""


def _event(event: str, **fields: object) -> None:
    log.error(json.dumps({"event": event, "pid": os.getpid(), **fields}, default=str))
