"""The MLflow Model Registry: each training run registers its model; the alias ``champion``
marks the version to serve, which ``promote`` imports into BentoML."""

from __future__ import annotations

import logging

import mlflow
from mlflow.exceptions import MlflowException

from credit_scoring.settings import Settings

CHAMPION = "champion"
log = logging.getLogger("credit_scoring.pipeline.registry")


def champion_run_id(settings: Settings) -> str | None:
    """The run behind the ``champion`` version, or None when there is none yet."""
    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(settings.model_name, CHAMPION)
    except MlflowException:
        return None
    return version.run_id


def crown_if_better(settings: Settings, version: str, run_id: str) -> bool:
    """Move ``champion`` to this version when it costs less per client on the hold-out set
    than the champion, or when the champion was measured on other data (costs on different
    data are not comparable; the newest data wins)."""
    client = mlflow.MlflowClient()
    current = champion_run_id(settings)
    new = client.get_run(run_id).data
    if current is not None and current != run_id:
        old = client.get_run(current).data
        same_data = old.tags.get("data_sha256_16") == new.tags.get("data_sha256_16")
        old_cost = old.metrics.get("test_cost_per_client", float("inf"))
        if same_data and new.metrics["test_cost_per_client"] > old_cost:
            log.info("champion stays (run %s, cost/client %.4f)", current, old_cost)
            return False
    client.set_registered_model_alias(settings.model_name, CHAMPION, version)
    return True
