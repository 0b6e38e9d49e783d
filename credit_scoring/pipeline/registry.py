"""The MLflow Model Registry: one registered model per dataset (``<prefix>.<schema name>``,
see ``PipelineSettings.registered_model``); each training run registers a version of its
dataset's model, and that model's alias ``champion`` marks the version ``promote`` imports
into BentoML. Training one dataset never moves another dataset's champion.

A model may also have a ``challenger``: the version ``promote --challenger`` imports to be
scored in shadow beside the champion. ``switch`` makes it the champion and ``rollback``
returns to the champion before; each move is recorded on the versions concerned (tags
``previous_champion``, ``switched_*``, ``rolled_back_*``), so the registry holds the history."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

CHAMPION = "champion"
CHALLENGER = "challenger"
# On a version, when it became the champion: the version it replaced (what rollback restores).
PREVIOUS_CHAMPION = "previous_champion"
log = logging.getLogger("credit_scoring.pipeline.registry")


class RegistryError(RuntimeError):
    """A registry move that cannot be made (no challenger to switch to, no previous champion
    to roll back to, a run that is no version of the model); the message says which."""


@dataclass(frozen=True)
class Move:
    """A change of champion: the registered model, the versions before and after."""

    model: str
    previous: str | None
    champion: str
    run_id: str | None  # the new champion's run (None: a version registered without a run)


def aliased(model: str, alias: str) -> ModelVersion | None:
    """The version of a registered model under an alias, or None."""
    try:
        return mlflow.MlflowClient().get_model_version_by_alias(model, alias)
    except MlflowException:
        return None


def champion_run_id(model: str) -> str | None:
    """The run behind the ``champion`` version of a registered model, or None."""
    version = aliased(model, CHAMPION)
    return None if version is None else version.run_id


def version_of_run(model: str, run_id: str) -> ModelVersion:
    """The version of ``model`` that a training run registered."""
    found = mlflow.MlflowClient().search_model_versions(f"name = '{model}' AND run_id = '{run_id}'")
    if not found:
        raise RegistryError(f"run {run_id} registered no version of {model}")
    return max(found, key=lambda v: int(v.version))


def newest_challenger(model: str) -> ModelVersion:
    """The newest version of ``model`` that is not its champion: the run trained last that
    did not beat the champion, the natural candidate to watch in shadow."""
    champion = aliased(model, CHAMPION)
    versions = mlflow.MlflowClient().search_model_versions(f"name = '{model}'")
    for version in sorted(versions, key=lambda v: -int(v.version)):
        if champion is None or version.version != champion.version:
            return version
    raise RegistryError(f"{model} has no version besides its champion: train another model")


def crown(model: str, version: str) -> str | None:
    """Move ``champion`` to this version, noting on it the version it replaces; the previous
    champion's version (None: there was none, or it is this one)."""
    client = mlflow.MlflowClient()
    before = aliased(model, CHAMPION)
    previous = None if before is None or before.version == version else before.version
    if previous is not None:
        client.set_model_version_tag(model, version, PREVIOUS_CHAMPION, previous)
    client.set_registered_model_alias(model, CHAMPION, version)
    return previous


def check_challenger(model: str, version: str) -> None:
    """A champion cannot challenge itself."""
    if (champion := aliased(model, CHAMPION)) is not None and champion.version == version:
        raise RegistryError(
            f"{model} version {version} is the champion: it cannot challenge itself"
        )


def set_challenger(model: str, version: str) -> None:
    check_challenger(model, version)
    mlflow.MlflowClient().set_registered_model_alias(model, CHALLENGER, version)


def switch(model: str, reviewer: str, why: str) -> Move:
    """The challenger becomes the champion (who, why and when on its version); the model is
    left without a challenger."""
    challenger = aliased(model, CHALLENGER)
    if challenger is None:
        raise RegistryError(f"{model} has no challenger: promote one with --challenger first")
    client = mlflow.MlflowClient()
    previous = crown(model, challenger.version)
    _note(model, challenger.version, "switched", reviewer, why)
    client.delete_registered_model_alias(model, CHALLENGER)
    return Move(model, previous, challenger.version, challenger.run_id)


def previous_champion(model: str) -> ModelVersion:
    """The version the current champion replaced (what ``rollback`` restores)."""
    return _champion_and_previous(model)[1]


def rollback(model: str, reviewer: str, why: str) -> Move:
    """The champion before the current one is champion again; the current one is tagged with
    who rolled it back and why. The restored version keeps its own ``previous_champion``, so a
    second rollback goes one further back."""
    current, previous = _champion_and_previous(model)
    _note(model, current.version, "rolled_back", reviewer, why)
    mlflow.MlflowClient().set_registered_model_alias(model, CHAMPION, previous.version)
    return Move(model, current.version, previous.version, previous.run_id)


def _champion_and_previous(model: str) -> tuple[ModelVersion, ModelVersion]:
    current = aliased(model, CHAMPION)
    if current is None:
        raise RegistryError(f"{model} has no champion to roll back")
    previous = current.tags.get(PREVIOUS_CHAMPION)
    if previous is None:
        raise RegistryError(
            f"{model} version {current.version} records no previous champion to return to"
        )
    return current, mlflow.MlflowClient().get_model_version(model, previous)


def _note(model: str, version: str, what: str, reviewer: str, why: str) -> None:
    client = mlflow.MlflowClient()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for key, value in (("by", reviewer), ("why", why), ("at", now)):
        client.set_model_version_tag(model, version, f"{what}_{key}", value)


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
        crown(model, version)
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
        crown(model, version)
    return crowned
