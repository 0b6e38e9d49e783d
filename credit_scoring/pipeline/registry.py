"""The MLflow Model Registry: one registered model per dataset (``<prefix>.<schema name>``,
see ``PipelineSettings.registered_model``); each training run registers a version of its
dataset's model, and that model's alias ``champion`` marks the version ``promote`` imports
into BentoML. Training one dataset never moves another dataset's champion."""

from __future__ import annotations

import logging

import mlflow
from mlflow.exceptions import MlflowException

CHAMPION = "champion"
log = logging.getLogger("credit_scoring.pipeline.registry")


def champion_run_id(model: str) -> str | None:
    """The run behind the ``champion`` version of a registered model, or None."""
    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(model, CHAMPION)
    except MlflowException:
        return None
    return version.run_id


def newest_model(prefix: str) -> str | None:
    """The registered model (of this project's prefix) with the most recent version."""
    versions = mlflow.MlflowClient().search_model_versions(
        f"name LIKE '{prefix}.%'", max_results=1, order_by=["creation_timestamp DESC"]
    )
    return versions[0].name if versions else None


def crown_if_better(model: str, version: str, run_id: str) -> bool:
    """Move ``champion`` to this version when it costs less per client on the hold-out set
    than the champion, or when the champion was measured on other data (costs on different
    data are not comparable; the newest data wins)."""
    client = mlflow.MlflowClient()
    current = champion_run_id(model)
    new = client.get_run(run_id).data
    if current is not None and current != run_id:
        old = client.get_run(current).data
        same_data = old.tags.get("data_sha256_16") == new.tags.get("data_sha256_16")
        old_cost = old.metrics.get("test_cost_per_client", float("inf"))
        if same_data and new.metrics["test_cost_per_client"] > old_cost:
            log.info("champion of %s stays (run %s, cost/client %.4f)", model, current, old_cost)
            return False
    client.set_registered_model_alias(model, CHAMPION, version)
    return True
