"""Promote: a dataset's ``champion`` version in the MLflow registry -> the BentoML model store.

The champion's run holds a ``scorer`` artifact (its family's model, threshold, calibration,
input schema, reference sample and its history rows, metrics), copied as it is into a new BentoML
model version labelled with its run id and the SHA-256 of its files (``digests.json``, checked
by the service at load). A run id promotes that run instead.

Every promotion passes the fairness gate (``pipeline.fairness.verdict`` on the audit stored
with the run) or is an explicit override: a written justification and the reviewer's name,
recorded with the model (``scorer.json`` ``promotion``), in the run and in the model card.

A challenger (``promote --challenger``) passes the same gate into a store name of its own
(``CoreSettings.challenger_name``), which the service scores in shadow. ``switch`` copies the
served challenger into the champion's name and removes the challenger; ``rollback`` copies the
previous champion's stored bundle back. The registry's aliases move with them
(``pipeline.registry``): the store's newest champion is always the registry's champion.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bentoml
import mlflow
from mlflow.exceptions import MlflowException

from credit_scoring.core.scorer import Scorer, verify_digests, write_digests
from credit_scoring.pipeline import model_card, registry
from credit_scoring.pipeline.fairness import GateBounds, verdict
from credit_scoring.pipeline.registry import Move, champion_run_id, newest_model
from credit_scoring.pipeline.settings import PipelineSettings
from credit_scoring.pipeline.tracking import SCORER_ARTIFACT, use_experiment

log = logging.getLogger("promote")
PROMOTION_LABELS = ("mlflow_run_id", "fairness_gate")  # what a copied bundle keeps of its labels


class PromoteError(RuntimeError):
    """Nothing to promote (no champion, a run id the store does not know), or the fairness
    gate refuses the model and no override was given."""


@dataclass(frozen=True)
class Override:
    """A reviewer's decision to promote a model the fairness gate refuses."""

    justification: str
    reviewer: str

    @classmethod
    def given(cls, justification: str | None, reviewer: str | None) -> Override | None:
        """The override when both are given; one without the other is a mistake."""
        if not justification and not reviewer:
            return None
        if not (justification and justification.strip() and reviewer and reviewer.strip()):
            raise PromoteError("an override needs both --justification TEXT and --reviewer NAME")
        return cls(justification.strip(), reviewer.strip())


def gate(
    scorer: Scorer, run_id: str, bounds: GateBounds, override: Override | None
) -> dict[str, Any]:
    """The promotion record: the gate's verdict on the stored audit, and the override when
    one was needed. Raises PromoteError naming each failing group and figure."""
    audit = scorer.metadata.get("fairness") or {}
    checked = verdict(audit, bounds)
    if not audit:
        checked["note"] = "no protected attribute declared: nothing audited"
    if not checked["passed"] and override is None:
        raise PromoteError(
            f"fairness gate refuses run {run_id}: {'; '.join(checked['failures'])}. "
            "Choose another model, or promote anyway with --justification TEXT --reviewer NAME"
        )
    record: dict[str, Any] = {
        "gate": checked,
        "decision": "passed" if checked["passed"] else "overridden",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if override is not None:
        record |= {"justification": override.justification, "reviewer": override.reviewer}
    return record


def champion_of(settings: PipelineSettings, dataset: str | None = None) -> str:
    """The run of the ``champion`` version of a dataset's registered model (default: the
    dataset whose model has the newest version)."""
    use_experiment(settings)
    if dataset:
        model: str | None = settings.registered_model(dataset)
    else:
        model = newest_model(settings.registry_prefix)
    run_id = champion_run_id(model) if model else None
    if run_id is None:
        raise PromoteError(
            f"no finished training run registered as {model or settings.registry_prefix + '.*'}"
            f"@champion at {settings.tracking_uri}: run `credit-scoring train` first"
        )
    if not dataset:
        log.info("dataset of the newest registered version: %s", model)
    return run_id


def promote(
    settings: PipelineSettings,
    run_id: str,
    bounds: GateBounds | None = None,
    override: Override | None = None,
    name: str | None = None,
) -> bentoml.Model:
    """Copy a run's scorer bundle into the BentoML store under ``name`` (default
    ``CREDIT_MODEL_NAME``), once the fairness gate passes or is overridden; the card is
    rewritten with the decision."""
    use_experiment(settings)  # the project's store, with or without --run-id
    try:
        mlflow.MlflowClient().get_run(run_id)
    except MlflowException as error:
        raise PromoteError(f"no run {run_id} in {settings.tracking_uri}") from error
    with tempfile.TemporaryDirectory() as tmp:
        folder = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=SCORER_ARTIFACT, dst_path=tmp
        )
        scorer = Scorer.load(Path(folder))  # validates the bundle before it enters the store
        record = gate(scorer, run_id, bounds or GateBounds(), override)
        scorer.metadata["promotion"] = record
        labels = dict(zip(PROMOTION_LABELS, (run_id, record["decision"]), strict=True))
        model = _store(name or settings.core.model_name, scorer, labels)
        _record_in_run(run_id, record, Path(model.path))
    if record["decision"] == "overridden":
        log.warning(
            "fairness gate overridden by %s: %s",
            record["reviewer"],
            "; ".join(record["gate"]["failures"]),
        )
    return model


def _store(name: str, scorer: Scorer, labels: dict[str, str]) -> bentoml.Model:
    """A new version of ``name`` in the BentoML store holding the scorer bundle, its card and
    its digests (checked by the service before it loads the bundle: a changed file is
    refused)."""
    metrics = scorer.metadata.get("metrics", {})
    run_id = labels["mlflow_run_id"]
    with bentoml.models.create(
        name,
        module="credit_scoring.core.scorer",
        labels={**labels, "framework": scorer.model.family},
        metadata={
            "threshold": scorer.threshold,
            "mlflow_run_id": run_id,
            **{k: float(v) for k, v in metrics.items()},
        },
    ) as model:
        scorer.save(Path(model.path))
        model_card.write(Path(model.path), scorer, str(model.tag))
        model.info.labels["bundle_sha256"] = write_digests(Path(model.path))
    return model


def registered_model(settings: PipelineSettings, dataset: str | None, run_id: str | None) -> str:
    """The registered model a registry move concerns: the dataset's, else the one the run
    registered a version of, else the one with the newest version."""
    use_experiment(settings)
    prefix = settings.registry_prefix
    if dataset:
        return settings.registered_model(dataset)
    if run_id:
        versions = mlflow.MlflowClient().search_model_versions(f"run_id = '{run_id}'")
        names = [v.name for v in versions if v.name.startswith(f"{prefix}.")]
        if not names:
            raise PromoteError(f"run {run_id} registered no version of a {prefix}.* model")
        return names[0]
    newest = newest_model(prefix)
    if newest is None:
        raise PromoteError(
            f"no registered model {prefix}.* at {settings.tracking_uri}: train a model first"
        )
    return newest


def promote_challenger(
    settings: PipelineSettings,
    dataset: str | None = None,
    run_id: str | None = None,
    bounds: GateBounds | None = None,
    override: Override | None = None,
) -> tuple[bentoml.Model, str]:
    """Import a version as the challenger (the run's, else the newest that is not the
    champion), through the same gate as a champion; sets the ``challenger`` alias. Returns the
    stored model and the registry version."""
    model = registered_model(settings, dataset, run_id)
    try:
        version = (
            registry.version_of_run(model, run_id) if run_id else registry.newest_challenger(model)
        )
        registry.check_challenger(model, version.version)
    except registry.RegistryError as error:
        raise PromoteError(str(error)) from error
    if version.run_id is None:
        raise PromoteError(f"{model} version {version.version} has no training run to import")
    stored = promote(settings, version.run_id, bounds, override, settings.core.challenger_name)
    registry.set_challenger(model, version.version)
    return stored, version.version


def switch(
    settings: PipelineSettings, reviewer: str, why: str, dataset: str | None = None
) -> tuple[Move, bentoml.Model]:
    """The served challenger becomes the champion: registry aliases (who and why on the
    version), a new champion version in the store copied from the challenger's bundle, and
    no challenger left in either."""
    reviewer, why = _signed(reviewer, why)
    model = registered_model(settings, dataset, None)
    challenger = registry.aliased(model, registry.CHALLENGER)
    stored = _newest(settings.core.challenger_name)
    if challenger is None or stored is None:
        raise PromoteError(
            f"{model} has no challenger: `credit-scoring promote --challenger` first"
        )
    if stored.info.labels.get("mlflow_run_id") != challenger.run_id:
        raise PromoteError(
            f"the store's challenger {stored.tag} is not {model}@challenger (run "
            f"{challenger.run_id}): promote the challenger again"
        )
    labels = {"switched_by": reviewer, "switched_from": str(stored.tag)}
    champion = _copy(stored, settings.core.model_name, labels)
    move = registry.switch(model, reviewer, why)
    for version in bentoml.models.list(settings.core.challenger_name):
        bentoml.models.delete(version.tag)
    return move, champion


def rollback(
    settings: PipelineSettings, reviewer: str, why: str, dataset: str | None = None
) -> tuple[Move, bentoml.Model]:
    """The previous champion is champion again: registry alias (who and why on the version
    left) and a new champion version in the store copied from that champion's stored bundle."""
    reviewer, why = _signed(reviewer, why)
    model = registered_model(settings, dataset, None)
    try:
        previous = registry.previous_champion(model)
    except registry.RegistryError as error:
        raise PromoteError(str(error)) from error
    stored = _newest(settings.core.model_name, previous.run_id)
    if stored is None:
        raise PromoteError(
            f"{model} version {previous.version} (run {previous.run_id}) was never promoted into "
            f"the BentoML store as {settings.core.model_name}: `credit-scoring promote --run-id "
            f"{previous.run_id}`"
        )
    champion = _copy(
        stored,
        settings.core.model_name,
        {"rolled_back_by": reviewer, "restored_from": str(stored.tag)},
    )
    return registry.rollback(model, reviewer, why), champion


def _signed(reviewer: str | None, why: str | None) -> tuple[str, str]:
    """A change of champion names who decided and why: both, not blank."""
    if not (reviewer and reviewer.strip() and why and why.strip()):
        raise PromoteError("a switch or rollback needs --reviewer NAME and --why TEXT")
    return reviewer.strip(), why.strip()


def _newest(name: str, run_id: str | None = None) -> bentoml.Model | None:
    """The newest stored version of ``name`` (of that MLflow run, when given), or None."""
    versions = [
        m
        for m in bentoml.models.list(name)
        if run_id is None or m.info.labels.get("mlflow_run_id") == run_id
    ]
    return max(versions, key=lambda m: m.creation_time) if versions else None


def _copy(source: bentoml.Model, name: str, labels: dict[str, str]) -> bentoml.Model:
    """A stored bundle as a new version of ``name`` (so it becomes the newest, the one a
    server starts with), once its digests check; its promotion record travels with it."""
    verify_digests(Path(source.path))
    scorer = Scorer.load(Path(source.path))
    kept = {k: v for k, v in source.info.labels.items() if k in PROMOTION_LABELS}
    return _store(name, scorer, kept | labels)


def _record_in_run(run_id: str, record: dict[str, Any], folder: Path) -> None:
    """The promotion decision and the promoted card, in the training run."""
    client = mlflow.MlflowClient()
    client.log_dict(run_id, record, "promotion/promotion.json")
    for name in (model_card.CARD_MD, model_card.CARD_HTML):
        client.log_artifact(run_id, str(folder / name), artifact_path="promotion")
    client.set_tag(run_id, "promotion_fairness_gate", record["decision"])
