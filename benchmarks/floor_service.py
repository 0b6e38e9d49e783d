"""The framework's floor for a batched POST, served beside the credit-scoring service by the
serving benchmark: the same BentoML, fixes, workers, batch size, traffic and garbage-collector
settings, and one batchable endpoint that parses the body into plain dicts and answers a
constant. What an endpoint of this framework costs before any work of its own."""

from __future__ import annotations

from typing import Any

import bentoml

from credit_scoring.serving import bentoml_fixes, gc_policy
from credit_scoring.serving.settings import ServingSettings

SETTINGS = ServingSettings()
bentoml_fixes.apply()


@bentoml.service(
    traffic={"timeout": 30}, workers=SETTINGS.workers, logging={"access": {"enabled": False}}
)
class Floor:
    def __init__(self) -> None:
        gc_policy.settle()

    @bentoml.api(batchable=True, max_batch_size=SETTINGS.max_batch_size, max_latency_ms=20_000)
    def score(self, applications: list[dict[str, Any]]) -> list[dict[str, float]]:
        return [{"probability": 0.5} for _ in applications]
