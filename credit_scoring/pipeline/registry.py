"""The MLflow Model Registry: one registered model per dataset (``<prefix>.<schema name>``,
see ``PipelineSettings.registered_model``); each training run registers a version of its
dataset's model, and that model's alias ``champion`` marks the version ``promote`` imports
into BentoML. Training one dataset never moves another dataset's champion."""

from __future__ import annotations

import logging
from collections.abc import Callable

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


# The champion's figures on the new run's hold-out (None: it cannot score those rows, e.g.
# the columns changed or its bundle is too old to load).
Rescore = Callable[[str], dict[str, float] | None]


def crown_if_better(model: str, version: str, run_id: str, rescore: Rescore) -> bool:
    """Move ``champion`` to this version unless the champion costs less per client on the
    same evaluation: the champion is re-scored on this run's hold-out (hold-outs of other
    seeds or other data are not comparable). The comparison is recorded on this run
    (metrics ``champion_test_*``, tags ``champion_run_id``, ``champion_comparison``)."""
    client = mlflow.MlflowClient()
    current = champion_run_id(model)
    if current is None or current == run_id:
        client.set_registered_model_alias(model, CHAMPION, version)
        return True
    new_cost = client.get_run(run_id).data.metrics["test_cost_per_client"]
    old = rescore(current)
    crowned = old is None or new_cost <= old["cost_per_client"]
    if old is None:
        verdict = "crowned: the champion cannot score this run's hold-out"
    else:
        for key, value in old.items():
            client.log_metric(run_id, f"champion_test_{key}", value)
        verdict = (
            f"{'crowned' if crowned else 'champion stays'}: cost/client {new_cost:.4f} vs "
            f"champion {old['cost_per_client']:.4f} (AUC {old['roc_auc']:.4f}) on this run's "
            "hold-out"
        )
    client.set_tag(run_id, "champion_run_id", current)
    client.set_tag(run_id, "champion_comparison", verdict)
    log.info("%s: %s (champion run %s)", model, verdict, current)
    if crowned:
        client.set_registered_model_alias(model, CHAMPION, version)
    return crowned
